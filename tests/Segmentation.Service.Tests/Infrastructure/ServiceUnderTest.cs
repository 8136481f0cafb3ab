using Marten;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Admin;
using Segmentation.Service.Hosting;
using Segmentation.Service.Ingestion;

namespace Segmentation.Service.Tests.Infrastructure;

/// <summary>
/// One running instance of the segmentation service, on a test class's vhost and schema, with its admin API on a free
/// loopback port (<see cref="Http"/>; the admin key <see cref="AdminKey"/>, named <c>test</c>).
/// </summary>
public sealed class ServiceUnderTest : IAsyncDisposable
{
    public const string AdminKey = "test-admin-key";

    private readonly LoopbackWebApp _web;

    private ServiceUnderTest(LoopbackWebApp web) => _web = web;

    public IDocumentStore Store => Services.GetRequiredService<IDocumentStore>();

    public IServiceProvider Services => _web.App.Services;

    /// <summary>A client of the admin API, sending no key.</summary>
    public HttpClient Http => _web.Http;

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
        var settings = new SegmentationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName) { Concurrency = 8 };
        var web = await LoopbackWebApp.Start(
            new Dictionary<string, string?>(configuration ?? new Dictionary<string, string?>()) { ["Admin:Keys:test"] = AdminKey },
            builder =>
            {
                if (Environment.GetEnvironmentVariable("SEGMENTATION_TEST_LOGS") == "1") { builder.Logging.AddSimpleConsole(); builder.Logging.SetMinimumLevel(LogLevel.Debug); builder.Logging.AddFilter("Marten", LogLevel.Warning); builder.Logging.AddFilter("MassTransit", LogLevel.Information); builder.Logging.AddFilter("Microsoft", LogLevel.Warning); }
                builder.Services.AddSingleton<TimeProvider>(time);
                builder.Services.AddSegmentationService(configure?.Invoke(settings) ?? settings, builder.Configuration);
                services?.Invoke(builder.Services);
            },
            app => app.MapAdminApi());
        await web.App.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        return new ServiceUnderTest(web);
    }

    public ValueTask DisposeAsync() => _web.DisposeAsync();
}
