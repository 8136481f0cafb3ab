using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Segmentation.Service.Tests.Membership;

/// <summary>Two service instances race on the same customers; the event log proves the claim held.</summary>
public sealed class ConcurrentInstancesTests(IsolatedServers servers, ITestOutputHelper output) : IClassFixture<IsolatedServers>
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);

    // Events are dated ahead of the test clock and evaluated at their own occurrence time, so time moves with the
    // traffic and cooldowns end and windows slide during the run.
    private static readonly Dictionary<string, string?> EventTimeConfiguration = new()
    {
        ["Segmentation:Ingestion:MaxClockSkew"] = "30.00:00:00",
    };

    [Fact]
    public async Task No_customer_ever_holds_two_exclusive_segments_no_cooldown_is_broken_and_every_entry_is_published_once()
    {
        var time = new FakeTimeProvider(Start);
        var rules = ChurnRuleset.WriteToTempFile();
        await using var first = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = rules }, EventTimeConfiguration);
        await using var second = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = rules, RunRelay = false }, EventTimeConfiguration);
        using var firstRetries = Retries(first);
        using var secondRetries = Retries(second);
        await using var observer = await SegmentEventObserver.Connect(servers);
        await using var upstream = await UpstreamPublisher.Connect(servers);

        var history = ChurnHistory.Generate(customers: 12, eventsPerCustomer: 40, Start, seed: 7);
        await Task.WhenAll(history.Select(e => ChurnHistory.Publish(upstream, e)));

        var customers = history.Select(e => e.CustomerId).Distinct().ToList();
        await Eventually.Get(() => StoredEventCount(first.Store, customers), n => n == history.Count,
            $"{history.Count} events stored", TimeSpan.FromSeconds(120));

        var report = await EventLogInvariants.Check(first.Store, ChurnRuleset.Cooldown, customers);
        Assert.Empty(report.Violations);
        Assert.True(report.Entries > customers.Count, $"only {report.Entries} entries: the ruleset did not churn");

        var observed = await Eventually.Get(() => Task.FromResult(observer.Entered.Select(e => e.MessageId).ToList()),
            ids => ids.Count >= report.Entries, $"{report.Entries} SegmentEntered on the bus", TimeSpan.FromSeconds(60));
        Assert.Equal(report.EnteredEventIds.Order(), observed.Order());

        var retries = firstRetries.GetMeasurementSnapshot().Sum(m => m.Value) + secondRetries.GetMeasurementSnapshot().Sum(m => m.Value);
        output.WriteLine($"{history.Count} events, {customers.Count} customers, {report.Entries} entries, {retries} concurrency retries");
        Assert.True(retries > 0, "no concurrency conflict happened: the test did not race");
    }

    private static MetricCollector<long> Retries(ServiceUnderTest service) => new(
        service.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
        SegmentationMetrics.MeterName, "segmentation.concurrency.retries");

    private static async Task<int> StoredEventCount(IDocumentStore store, IReadOnlyList<string> customers)
    {
        await using var session = store.QuerySession();
        var profiles = await session.LoadManyAsync<CustomerProfile>(customers);
        return profiles.Sum(p => p.EventTypes.Values.Sum(t => t.Count));
    }
}
