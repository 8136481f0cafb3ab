using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Microsoft.Extensions.Configuration;
using Segmentation.Service.Hosting;
using Segmentation.Service.Ingestion;

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

    /// <summary>The service's settings on this environment, with its defaults (concurrency, sweeper, relay).</summary>
    public SegmentationSettings ServiceSettings(string rulesetPath) =>
        new(RabbitMqUrl, PostgresConnection, Name) { RulesetPath = rulesetPath };

    /// <summary>One segmentation service instance in this process, started and connected to the bus; on <paramref name="clock"/> and with <paramref name="configure"/>'s settings if given.</summary>
    public async Task<IHost> StartService(
        string rulesetPath, TimeProvider? clock = null, Func<SegmentationSettings, SegmentationSettings>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        if (clock is not null) builder.Services.AddSingleton(clock);
        var settings = ServiceSettings(rulesetPath);
        builder.Services.AddSegmentationService(configure?.Invoke(settings) ?? settings, builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        return host;
    }

    /// <summary>The service's ingestion settings as this process's environment sets them (<c>Segmentation__Ingestion__BatchSize</c>, ...).</summary>
    public static IngestionOptions IngestionOptions()
    {
        var options = new IngestionOptions();
        new ConfigurationBuilder().AddEnvironmentVariables().Build().GetSection("Segmentation:Ingestion").Bind(options);
        return options;
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "SegmentationEvents.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("run from inside the repository");
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
