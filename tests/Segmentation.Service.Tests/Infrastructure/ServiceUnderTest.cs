using Marten;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Hosting;
using Segmentation.Service.Ingestion;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>One running instance of the segmentation service, on a test class's vhost and schema.</summary>
public sealed class ServiceUnderTest : IAsyncDisposable
{
    private readonly IHost _host;

    private ServiceUnderTest(IHost host) => _host = host;

    public IDocumentStore Store => _host.Services.GetRequiredService<IDocumentStore>();

    public IServiceProvider Services => _host.Services;

    /// <summary>The customer events stored in the customer's stream (the truth; the profile keeps only what rules read), in stream order.</summary>
    public async Task<IReadOnlyList<CustomerEventRecorded>> StoredEvents(string customerId)
    {
        await using var session = Store.QuerySession();
        return [.. (await session.Events.FetchStreamAsync(customerId)).Select(e => e.Data).OfType<CustomerEventRecorded>()];
    }

    public static async Task<ServiceUnderTest> Start(
        IsolatedServers servers,
        FakeTimeProvider time,
        Func<SegmentationSettings, SegmentationSettings>? configure = null,
        IReadOnlyDictionary<string, string?>? configuration = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(configuration ?? new Dictionary<string, string?>());
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("SEGMENTATION_TEST_LOGS") == "1") { builder.Logging.AddSimpleConsole(); builder.Logging.SetMinimumLevel(LogLevel.Debug); builder.Logging.AddFilter("Marten", LogLevel.Warning); builder.Logging.AddFilter("MassTransit", LogLevel.Information); builder.Logging.AddFilter("Microsoft", LogLevel.Warning); }
        builder.Services.AddSingleton<TimeProvider>(time);
        var settings = new SegmentationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName) { Concurrency = 8 };
        builder.Services.AddSegmentationService(configure?.Invoke(settings) ?? settings, builder.Configuration);
        services?.Invoke(builder.Services);
        var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        return new ServiceUnderTest(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
