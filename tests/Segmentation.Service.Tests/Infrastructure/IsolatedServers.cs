using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Npgsql;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>
/// A RabbitMQ vhost and a PostgreSQL schema that belong to one test class only, created before
/// its first test and removed after its last.
/// </summary>
public sealed class IsolatedServers : IAsyncLifetime
{
    private readonly string _name = $"t_{Guid.NewGuid():N}"[..18];
    private HttpClient? _management;

    public TestServers Servers { get; private set; } = null!;
    public string SchemaName => _name;
    public Uri RabbitMqUrl => new UriBuilder(Servers.RabbitMqUrl) { Path = "/" + _name }.Uri;
    public string PostgresConnection => Servers.PostgresConnection;

    public async Task InitializeAsync()
    {
        Servers = await TestServers.Get();
        var user = Uri.UnescapeDataString(Servers.RabbitMqUrl.UserInfo);
        _management = new HttpClient { BaseAddress = Servers.RabbitMqManagementUrl };
        _management.DefaultRequestHeaders.Authorization =
            new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user)));

        (await _management.PutAsJsonAsync($"/api/vhosts/{_name}", new { })).EnsureSuccessStatusCode();
        (await _management.PutAsJsonAsync($"/api/permissions/{_name}/{Uri.EscapeDataString(user.Split(':')[0])}",
            new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
    }

    /// <summary>Drops every client connection to this class's vhost, as a broker restart would.</summary>
    public async Task CloseBrokerConnections()
    {
        var connections = await _management!.GetFromJsonAsync<List<ConnectionInfo>>($"/api/vhosts/{_name}/connections") ?? [];
        foreach (var connection in connections)
            (await _management!.DeleteAsync($"/api/connections/{Uri.EscapeDataString(connection.Name)}")).EnsureSuccessStatusCode();
    }

    private sealed record ConnectionInfo(string Name);

    public async Task DisposeAsync()
    {
        if (_management is not null)
        {
            await _management.DeleteAsync($"/api/vhosts/{_name}");
            _management.Dispose();
        }
        await using var connection = new NpgsqlConnection(PostgresConnection);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {_name} CASCADE", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
