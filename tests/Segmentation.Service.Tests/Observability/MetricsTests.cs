using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Observability;

/// <summary>The service's own instruments record what the path did, with the tags an SRE filters on.</summary>
public sealed class MetricsTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Consumption_evaluation_entries_blocks_relay_and_sweeper_are_measured()
    {
        var time = new FakeTimeProvider(Now);
        await using var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path });
        var meters = service.Services.GetRequiredService<IMeterFactory>();
        MetricCollector<T> Collect<T>(string instrument) where T : struct => new(meters, SegmentationMetrics.MeterName, instrument);
        using var consumed = Collect<long>("segmentation.events.consumed");
        using var evaluation = Collect<double>("segmentation.evaluation.duration");
        using var entered = Collect<long>("segmentation.segments.entered");
        using var blocked = Collect<long>("segmentation.segments.blocked");
        using var relayLag = Collect<double>("segmentation.relay.lag");
        using var endToEndLag = Collect<double>("segmentation.end_to_end.lag");
        using var sweeperLag = Collect<double>("segmentation.sweeper.lag");
        await using var upstream = await UpstreamPublisher.Connect(servers);
        await using var observer = await SegmentEventObserver.Connect(servers);

        var spender = "metrics-spender";
        await upstream.Publish(new OrderPurchased(Guid.NewGuid(), spender, Now.AddDays(-80), "o-1", 700m, "EUR"));
        await upstream.Publish(new ProfileUpdated(Guid.NewGuid(), spender, Now.AddDays(-70),
            new Dictionary<string, object?> { ["plan"] = "pro" }));
        await observer.EnteredBy(spender, 1);
        await Eventually.Get(() => Task.FromResult(consumed.GetMeasurementSnapshot().Count), n => n >= 2, "two consumed events");

        Assert.Equal(["ProfileUpdated", "Purchased"], consumed.GetMeasurementSnapshot().Select(m => (string)m.Tags["event.type"]!).Order());
        Assert.True(evaluation.GetMeasurementSnapshot().Count >= 2);
        Assert.All(evaluation.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 5));
        // The relay counts an entry after the broker confirmed the publish, which may be after the observer got it.
        var entries = await Eventually.Get(() => Task.FromResult(entered.GetMeasurementSnapshot()), e => e.Count > 0, "the entry counted");
        Assert.Contains(entries, m => (string)m.Tags["segment"]! == "big_spender" && m.Value == 1);
        Assert.Contains(blocked.GetMeasurementSnapshot(), m => (string)m.Tags["segment"]! == "win_back" && (string)m.Tags["reason"]! == "held");
        Assert.NotEmpty(relayLag.GetMeasurementSnapshot());
        Assert.NotEmpty(endToEndLag.GetMeasurementSnapshot());

        var newcomer = "metrics-newcomer";
        await upstream.Publish(new CustomerSignedUp(Guid.NewGuid(), newcomer, Now, "n@example.com", "DE"));
        await upstream.Publish(new ProfileUpdated(Guid.NewGuid(), newcomer, Now, new Dictionary<string, object?> { ["email_opt_in"] = true }));
        await Eventually.Get(() => Task.FromResult(consumed.GetMeasurementSnapshot().Count), n => n >= 4, "the newcomer's events");
        time.Advance(TimeSpan.FromDays(3).Add(TimeSpan.FromHours(1)));
        await observer.EnteredBy(newcomer, 1);

        var lags = await Eventually.Get(() => Task.FromResult(sweeperLag.GetMeasurementSnapshot()), l => l.Count > 0, "a sweeper lag");
        Assert.Contains(lags, m => m.Value >= TimeSpan.FromHours(1).TotalSeconds);
    }
}
