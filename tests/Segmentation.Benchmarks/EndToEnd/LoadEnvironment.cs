using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Npgsql;

namespace Segmentation.Benchmarks.EndToEnd;

/// <summary>A vhost and a schema of the load run's own on the servers named by RABBITMQ_URL / POSTGRES_CONNECTION.</summary>
internal sealed class LoadEnvironment : IAsyncDisposable
{
    private readonly HttpClient _management;

    private LoadEnvironment(Uri rabbitMqUrl, string postgresConnection, string name, HttpClient management)
    {
        RabbitMqUrl = rabbitMqUrl;
        PostgresConnection = postgresConnection;
        Name = name;
        _management = management;
    }

    public Uri RabbitMqUrl { get; }
    public string PostgresConnection { get; }
    public string Name { get; }

    public static async Task<LoadEnvironment> Create()
    {
        var rabbit = new Uri(Environment.GetEnvironmentVariable("RABBITMQ_URL")
            ?? throw new InvalidOperationException("RABBITMQ_URL is not set: run `eval \"$(infra/start.sh)\"` first"));
        var postgres = Environment.GetEnvironmentVariable("POSTGRES_CONNECTION")
            ?? throw new InvalidOperationException("POSTGRES_CONNECTION is not set: run `eval \"$(infra/start.sh)\"` first");
        var name = $"load_{DateTime.UtcNow:HHmmss}_{Random.Shared.Next(1000):D3}";
        var user = Uri.UnescapeDataString(rabbit.UserInfo);
        var management = new HttpClient { BaseAddress = new Uri($"http://{rabbit.Host}:15672") };
        management.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user)));
        (await management.PutAsJsonAsync($"/api/vhosts/{name}", new { })).EnsureSuccessStatusCode();
        (await management.PutAsJsonAsync($"/api/permissions/{name}/{Uri.EscapeDataString(user.Split(':')[0])}",
            new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        return new LoadEnvironment(new UriBuilder(rabbit) { Path = "/" + name }.Uri, postgres, name, management);
    }

    public async ValueTask DisposeAsync()
    {
        await _management.DeleteAsync($"/api/vhosts/{Name}");
        _management.Dispose();
        await using var connection = new NpgsqlConnection(PostgresConnection);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Name} CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
