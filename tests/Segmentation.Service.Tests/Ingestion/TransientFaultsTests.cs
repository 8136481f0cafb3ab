using System.Net;
using System.Net.Sockets;
using Npgsql;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Ingestion;

/// <summary>Which failures are waited out and which go to the error queue, with exceptions a real PostgreSQL and Npgsql raise.</summary>
public sealed class TransientFaultsTests
{
    [Fact]
    public async Task A_server_that_terminates_the_session_is_transient()
    {
        await using var doomed = await Open();
        var pid = doomed.ProcessID;
        await using (var admin = await Open())
        await using (var terminate = new NpgsqlCommand($"SELECT pg_terminate_backend({pid})", admin))
            await terminate.ExecuteScalarAsync();

        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() => new NpgsqlCommand("SELECT 1", doomed).ExecuteScalarAsync());
        Assert.True(TransientFaults.IsTransient(failure), $"{failure.GetType().Name}: {failure.Message}");
    }

    [Fact]
    public async Task A_refused_connection_is_transient()
    {
        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(async () =>
        {
            await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={ClosedPort()};Username=x;Password=x;Timeout=2");
            await connection.OpenAsync();
        });
        Assert.True(TransientFaults.IsTransient(failure));
        Assert.Equal("SocketException ConnectionRefused", TransientFaults.Describe(failure));
    }

    [Fact]
    public async Task A_command_timeout_is_transient()
    {
        await using var connection = await Open();
        var failure = await Assert.ThrowsAnyAsync<NpgsqlException>(() =>
            new NpgsqlCommand("SELECT pg_sleep(3)", connection) { CommandTimeout = 1 }.ExecuteScalarAsync());
        Assert.True(TransientFaults.IsTransient(failure));
    }

    [Theory]
    [InlineData(PostgresErrorCodes.AdminShutdown)]
    [InlineData(PostgresErrorCodes.CannotConnectNow)]
    [InlineData(PostgresErrorCodes.ConnectionFailure)]
    [InlineData(PostgresErrorCodes.ProtocolViolation)]
    [InlineData(PostgresErrorCodes.TooManyConnections)]
    public void Server_states_of_shutdown_failover_and_lost_connections_are_transient(string sqlState) =>
        Assert.True(TransientFaults.IsTransient(Wrapped(new PostgresException("server says", "FATAL", "FATAL", sqlState))));

    [Fact]
    public async Task What_the_server_refuses_for_the_statement_itself_is_permanent()
    {
        await using var connection = await Open();
        var syntax = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELEC 1", connection).ExecuteScalarAsync());
        var nul = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT '\"\\u0000\"'::jsonb", connection).ExecuteScalarAsync());

        Assert.False(TransientFaults.IsTransient(Wrapped(syntax)));
        Assert.False(TransientFaults.IsTransient(Wrapped(nul)));
        Assert.Equal("PostgresException 22P05", TransientFaults.Describe(Wrapped(nul)));
    }

    [Fact]
    public void Refusals_of_the_message_itself_are_permanent()
    {
        Assert.False(TransientFaults.IsTransient(new InvalidCustomerEventException("customerId is required")));
        Assert.False(TransientFaults.IsTransient(new DuplicateEventIdException("event id x was already recorded for customer c")));
        Assert.False(TransientFaults.IsTransient(new OperationCanceledException()));
    }

    [Fact]
    public void A_lost_broker_connection_is_transient()
    {
        var refused = new SocketException((int)SocketError.ConnectionRefused);
        Assert.True(TransientFaults.IsTransient(new RabbitMQ.Client.Exceptions.BrokerUnreachableException(refused)));
        Assert.True(TransientFaults.IsTransient(new MassTransit.RabbitMqConnectionException("connection lost", refused)));
    }

    [Fact]
    public void Retries_back_off_exponentially_up_to_the_longest_interval_for_the_whole_outage()
    {
        var options = new TransientRetryOptions
        {
            FirstInterval = TimeSpan.FromMilliseconds(100), MaxInterval = TimeSpan.FromSeconds(5), GiveUpAfter = TimeSpan.FromMinutes(15),
        };
        var intervals = options.Intervals().ToList();

        Assert.Equal([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5, 5], intervals.Take(8).Select(i => i.TotalSeconds));
        Assert.InRange(intervals.Aggregate(TimeSpan.Zero, (sum, i) => sum + i), options.GiveUpAfter, options.GiveUpAfter + options.MaxInterval);
    }

    /// <summary>As Marten surfaces a storage failure: the Npgsql exception inside its own.</summary>
    private static Exception Wrapped(Exception inner) => new InvalidOperationException("Marten Command Failure", inner);

    private static async Task<NpgsqlConnection> Open()
    {
        var connection = new NpgsqlConnection((await TestServers.Get()).PostgresConnection + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
