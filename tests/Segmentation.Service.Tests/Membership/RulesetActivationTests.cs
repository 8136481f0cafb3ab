using System.Net.Http.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Membership;

/// <summary>A newly activated ruleset version replaces the running one and existing customers are re-evaluated.</summary>
public sealed class RulesetActivationTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Activating_a_new_version_reevaluates_existing_customers_in_the_background()
    {
        var time = new FakeTimeProvider(Now);
        await using var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path });
        await using var observer = await SegmentEventObserver.Connect(servers);
        await using var upstream = await UpstreamPublisher.Connect(servers);
        var customers = Enumerable.Range(0, 5).Select(i => $"activation-{i}").ToList();
        foreach (var customer in customers)
            await upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, Now.AddDays(-1), $"{customer}-o", 50m, "EUR"));
        await Eventually.Get(() => Profiles(service, customers), ps => ps.Count == customers.Count, "all customers stored");
        var firstVersion = (await Profiles(service, customers))[0].RulesetVersion;

        var newVersion = await UploadAndActivate(service, """
            segments:
              any_buyer:
                channel: email
                when: count(Purchased) >= 1
            """);
        time.Advance(TimeSpan.FromSeconds(1)); // the sweeper's next tick

        var profiles = await Eventually.Get(() => Profiles(service, customers),
            ps => ps.All(p => p.RulesetVersion == newVersion), "every customer on the new version");
        Assert.NotEqual(firstVersion, newVersion);
        Assert.All(profiles, p => Assert.Equal(["any_buyer"], p.Segments.Keys));
        Assert.All(profiles, p => Assert.Equal(newVersion, p.Segments["any_buyer"].RulesetVersion));
        // Entries of the other tests of this class (same vhost and schema) can still be in flight and arrive here.
        var entered = await Eventually.Get(
            () => Task.FromResult(observer.Entered.Select(e => e.Message).Where(m => customers.Contains(m.CustomerId)).ToList()),
            es => es.Count >= customers.Count, "an entry per customer");
        Assert.All(entered, e => Assert.Equal(("any_buyer", newVersion), (e.Segment, e.RulesetVersion)));

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/rulesets/active", UriKind.Relative));
        request.Headers.Add(SegmentationEvents.ServiceDefaults.AdminAccess.ApiKeyHeader, ServiceUnderTest.AdminKey);
        using var response = await service.Http.SendAsync(request);
        var progress = (await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("reevaluation");
        Assert.Equal(newVersion, progress.GetProperty("version").GetString());
        Assert.Equal(0, progress.GetProperty("remaining").GetInt64());
        Assert.True(progress.GetProperty("customersAtActivation").GetInt64() >= customers.Count);
        Assert.Equal(progress.GetProperty("customersAtActivation").GetInt64(), progress.GetProperty("done").GetInt64());
    }

    [Fact]
    public async Task A_version_that_reads_more_than_profiles_keep_refolds_them_from_the_stream_and_decides_on_full_history()
    {
        var time = new FakeTimeProvider(Now);
        await using var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path });
        await using var upstream = await UpstreamPublisher.Connect(servers);
        var customers = Enumerable.Range(0, 3).Select(i => $"refold-{i}-{Guid.NewGuid():N}").ToList();
        foreach (var customer in customers)
        {
            await upstream.Publish(new CustomerEvent(Guid.NewGuid(), customer, "PageViewed", Now.AddDays(-2), new Dictionary<string, object?> { ["path"] = "/pricing" }));
            await upstream.Publish(new CustomerEvent(Guid.NewGuid(), customer, "PageViewed", Now.AddDays(-1), new Dictionary<string, object?> { ["path"] = "/pricing" }));
        }

        foreach (var customer in customers)
            await Eventually.Get(() => service.StoredEvents(customer), events => events.Count == 2, $"{customer}'s views stored");
        // The example ruleset reads no page views: the profiles keep only their count, first and last.
        Assert.All(await Profiles(service, customers), p => Assert.False(p.State.EventsByType.TryGetValue("PageViewed", out var views) && views.Count > 0));

        var newVersion = await UploadAndActivate(service, """
            segments:
              pricing_fan:
                when: count(PageViewed where path == "/pricing", 30d) >= 2
            """);
        // Ingestion during the re-evaluation refolds the customer it touches in the same way.
        await upstream.Publish(new CustomerEvent(Guid.NewGuid(), customers[0], "Purchased", Now, new Dictionary<string, object?> { ["amount"] = 5 }));
        time.Advance(TimeSpan.FromSeconds(1));

        var profiles = await Eventually.Get(() => Profiles(service, customers),
            ps => ps.All(p => p.RulesetVersion == newVersion), "every customer on the new version");
        Assert.All(profiles, p => Assert.Equal(["pricing_fan"], p.Segments.Keys));
        Assert.All(profiles, p => Assert.Equal(2, p.State.EventsByType["PageViewed"].Count));
    }

    [Fact]
    public async Task The_log_records_a_decision_only_when_what_the_profile_shows_changed()
    {
        var time = new FakeTimeProvider(Now);
        await using var service = await ServiceUnderTest.Start(servers, time, s => s with { RulesetPath = ExampleRuleset.Path });
        await using var upstream = await UpstreamPublisher.Connect(servers);
        var customer = $"quiet-{Guid.NewGuid():N}";
        for (var i = 0; i < 3; i++)
        {
            await upstream.Publish(new CustomerEvent(Guid.NewGuid(), customer, "PageViewed", Now.AddMinutes(i - 10)));
            await Eventually.Get(() => service.StoredEvents(customer), events => events.Count == i + 1, $"view {i} stored");
        }

        await using var session = service.Store.QuerySession();
        var types = (await session.Events.FetchStreamAsync(customer)).Select(e => e.Data.GetType().Name).ToList();
        Assert.Equal(["CustomerEventRecorded", "CustomerEvaluated", "CustomerEventRecorded", "CustomerEventRecorded"], types);
    }

    [Fact]
    public async Task A_ruleset_with_a_conflict_in_a_reject_group_is_refused_with_the_conflict()
    {
        await using var service = await ServiceUnderTest.Start(servers, new FakeTimeProvider(Now));
        await using var scope = service.Services.CreateAsyncScope();
        var catalog = scope.ServiceProvider.GetRequiredService<RulesetCatalog>();

        var (stored, errors) = await catalog.Upload("""
            groups:
              contact: { exclusive: true, on_conflict: reject }
            segments:
              big:
                group: contact
                priority: 2
                when: sum(Purchased.amount, 90d) >= 500
              small:
                group: contact
                priority: 1
                when: sum(Purchased.amount, 90d) <= 500
            """, "strict.yaml", "test", default);

        Assert.Null(stored);
        var error = Assert.Single(errors);
        Assert.Contains("group contact rejects conflicts: big and small", error, StringComparison.Ordinal);
    }

    /// <summary>Uploads and activates a version as an operator would, has this instance load it now, and returns it.</summary>
    private static async Task<string> UploadAndActivate(ServiceUnderTest service, string yaml)
    {
        string version;
        await using (var scope = service.Services.CreateAsyncScope())
        {
            var catalog = scope.ServiceProvider.GetRequiredService<RulesetCatalog>();
            var (stored, errors) = await catalog.Upload(yaml, "activated.yaml", "test", default);
            Assert.Empty(errors);
            version = stored!.Id;
            await catalog.Activate(version, "test", default);
        }

        await service.Services.GetRequiredService<RulesetWatcher>().LoadActive(default);
        return version;
    }

    private static async Task<IReadOnlyList<CustomerProfile>> Profiles(ServiceUnderTest service, IReadOnlyList<string> customers)
    {
        await using var session = service.Store.QuerySession();
        return await session.LoadManyAsync<CustomerProfile>(customers);
    }
}
