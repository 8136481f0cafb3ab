using MassTransit;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Hosting;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Observability;

/// <summary>Liveness is the process; readiness is PostgreSQL, the bus and a relay that keeps up, somewhere.</summary>
public sealed class HealthTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Ready_fails_while_no_instance_relays_and_recovers_once_one_does()
    {
        var time = new FakeTimeProvider(Now);
        await using var web = await LoopbackWebApp.Start(
            new Dictionary<string, string?>(),
            builder =>
            {
                builder.Services.AddSingleton<TimeProvider>(time);
                builder.Services.AddSegmentationService(
                    new SegmentationSettings(servers.RabbitMqUrl, servers.PostgresConnection, servers.SchemaName)
                    {
                        RulesetPath = ExampleRuleset.Path, RunRelay = false, RelayLagThreshold = 2,
                    },
                    builder.Configuration);
            },
            app => app.MapHealthEndpoints());
        // Until the bus is connected readiness fails for that reason; published events reach the service once its queues are bound.
        await web.App.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
        await using var upstream = await UpstreamPublisher.Connect(servers);
        var customer = $"health-{Guid.NewGuid():N}";
        for (var i = 0; i < 3; i++)
        {
            await upstream.Publish(new CustomerEvent(Guid.NewGuid(), customer, "PageViewed", Now.AddMinutes(-i)));
        }

        var ready = await Eventually.Get(() => Get(web, HealthEndpoints.ReadyPath), r => r.Status == HttpStatusCode.ServiceUnavailable, "readiness failing");
        Assert.Equal("Unhealthy", ready.Body.GetProperty("status").GetString());
        var checks = ready.Body.GetProperty("checks").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        Assert.Equal(new Dictionary<string, string?> { ["bus"] = "Healthy", ["postgres"] = "Healthy", ["relay"] = "Unhealthy" }, checks);
        var live = await Get(web, HealthEndpoints.LivePath);
        Assert.Equal((HttpStatusCode.OK, "Healthy"), (live.Status, live.Body.GetProperty("status").GetString()));

        // A second instance that relays: the first one is ready again, as the relay runs somewhere.
        await using var relaying = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path });
        await Eventually.Get(() => Get(web, HealthEndpoints.ReadyPath), r => r.Status == HttpStatusCode.OK, "readiness back");
        var report = await relaying.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Tags.Contains(HealthEndpoints.ReadyTag));
        Assert.Equal(HealthStatus.Healthy, report.Status);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> Get(LoopbackWebApp web, string path)
    {
        using var response = await web.Http.GetAsync(new Uri(path, UriKind.Relative));
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}
