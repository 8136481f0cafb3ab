namespace Segmentation.FaultTests;

/// <summary>The suite's private PostgreSQL cluster and RabbitMQ node, started before its first test and removed after its last.</summary>
public sealed class FaultServers : IAsyncLifetime
{
    public PrivatePostgres Postgres { get; private set; } = null!;
    public PrivateRabbitMq RabbitMq { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var postgres = PrivatePostgres.Start();
        var rabbit = PrivateRabbitMq.Start();
        try
        {
            await Task.WhenAll(postgres, rabbit);
        }
        finally
        {
            // A server that did start is removed even when the other did not: xunit disposes no fixture that failed to initialise.
            if (postgres.IsCompletedSuccessfully) Postgres = postgres.Result;
            if (rabbit.IsCompletedSuccessfully) RabbitMq = rabbit.Result;
            if (postgres.IsFaulted || rabbit.IsFaulted) await DisposeAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (RabbitMq is not null) await RabbitMq.DisposeAsync();
        if (Postgres is not null) await Postgres.DisposeAsync();
    }
}
