using Marten;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Membership;

/// <summary>
/// The broker drops every connection and the service is stopped and started again in the middle of a stream; at the
/// end, memberships equal the engine's replay of the same history (what <c>segctl evaluate</c> prints), and every
/// stored entry reached the bus under its own id, none lost.
/// </summary>
public sealed class RestartTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 0, 0, 0, TimeSpan.Zero);

    private static readonly Dictionary<string, string?> EventTimeConfiguration = new()
    {
        ["Segmentation:Ingestion:MaxClockSkew"] = "30.00:00:00",
    };

    [Fact]
    public async Task Memberships_after_a_broker_drop_and_a_service_restart_equal_the_replay_of_the_history()
    {
        var time = new FakeTimeProvider(Start);
        var rules = ChurnRuleset.WriteToTempFile();
        var history = ChurnHistory.Generate(customers: 8, eventsPerCustomer: 30, Start, seed: 11);
        var customers = history.Select(e => e.CustomerId).Distinct().ToList();
        var thirds = history.Chunk((history.Count + 2) / 3).ToList();
        await using var observer = await SegmentEventObserver.Connect(servers);
        await using var upstream = await UpstreamPublisher.Connect(servers);

        var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = rules }, EventTimeConfiguration);
        await PublishInOrder(upstream, thirds[0]);
        await WaitForStored(service.Store, customers, thirds[0].Length);

        await servers.CloseBrokerConnections();
        await upstream.WaitUntilConnected();
        await PublishInOrder(upstream, thirds[1]);
        await WaitForStored(service.Store, customers, thirds[0].Length + thirds[1].Length);

        await service.DisposeAsync();
        await PublishInOrder(upstream, thirds[2]);
        await using var restarted = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = rules }, EventTimeConfiguration);
        await WaitForStored(restarted.Store, customers, history.Count);

        var end = history.Max(e => e.OccurredAt);
        time.SetUtcNow(end);
        var profiles = await Eventually.Get(() => Profiles(restarted.Store, customers),
            ps => ps.All(p => p.NextCheckAt is null || p.NextCheckAt > end), "every customer evaluated up to the end");

        var engine = new SegmentEngine(RulesetLoader.Load(ChurnRuleset.Yaml, "churn.yaml").Ruleset!);
        var normalizer = new CustomerEventNormalizer(time, new IngestionOptions { MaxClockSkew = TimeSpan.FromDays(30) });
        foreach (var profile in profiles)
        {
            var replay = engine.Replay(profile.Id,
                history.Where(e => e.CustomerId == profile.Id).Select(e => Normalize(normalizer, e).ToRuleEvent()), end);
            Assert.Equal(replay.State.Held.Keys.Order(), profile.State.Held.Keys.Order());
            Assert.Equal(replay.Blocked.Select(b => (b.Segment, b.Reason)), profile.Blocked.Select(b => (b.Segment, b.Reason)));
        }

        Assert.Contains(profiles, p => p.State.Held.Count > 0);
        var report = await EventLogInvariants.Check(restarted.Store, ChurnRuleset.Cooldown, customers);
        Assert.Empty(report.Violations);
        Assert.True(report.Entries > customers.Count, $"only {report.Entries} entries: the ruleset did not churn");
        var published = await Eventually.Get(() => Task.FromResult(observer.Entered.Select(e => e.MessageId).Distinct().ToList()),
            ids => ids.Count >= report.Entries, $"{report.Entries} distinct SegmentEntered on the bus", TimeSpan.FromSeconds(60));
        Assert.Equal(report.EnteredEventIds.Order(), published.Order());
    }

    private static CustomerEventRecorded Normalize(CustomerEventNormalizer normalizer, ICustomerLifecycleEvent e) => e switch
    {
        OrderPurchased m => normalizer.Normalize(m).Event,
        CustomerEvent m => normalizer.Normalize(m).Event,
        _ => throw new ArgumentOutOfRangeException(nameof(e)),
    };

    private static async Task PublishInOrder(UpstreamPublisher upstream, IEnumerable<ICustomerLifecycleEvent> events)
    {
        foreach (var e in events) await ChurnHistory.Publish(upstream, e);
    }

    private static Task WaitForStored(IDocumentStore store, IReadOnlyList<string> customers, int count) =>
        Eventually.Get(async () => (await Profiles(store, customers)).Sum(p => p.EventTypes.Values.Sum(t => t.Count)),
            n => n >= count, $"{count} events stored", TimeSpan.FromSeconds(90));

    private static async Task<IReadOnlyList<CustomerProfile>> Profiles(IDocumentStore store, IReadOnlyList<string> customers)
    {
        await using var session = store.QuerySession();
        return await session.LoadManyAsync<CustomerProfile>(customers);
    }
}
