using System.Text;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Ingestion;

/// <summary>Upstream messages through real RabbitMQ into Marten streams and profiles in real PostgreSQL.</summary>
public sealed class IngestionTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private ServiceUnderTest _service = null!;
    private UpstreamPublisher _upstream = null!;

    public async Task InitializeAsync()
    {
        _service = await ServiceUnderTest.Start(servers, _time);
        _upstream = await UpstreamPublisher.Connect(servers);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _service.DisposeAsync();
    }

    [Fact]
    public async Task Lifecycle_events_build_the_customer_profile()
    {
        var customer = NewCustomerId();
        await _upstream.Publish(new CustomerSignedUp(Guid.NewGuid(), customer, Now.AddDays(-10), "a@example.com", "DE"));
        await _upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, Now.AddDays(-5), "o-1", 120.50m, "EUR"));
        await _upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, Now.AddDays(-2), "o-2", 30m, "EUR"));
        await _upstream.Publish(new ProfileUpdated(Guid.NewGuid(), customer, Now.AddDays(-9),
            new Dictionary<string, object?> { ["plan"] = "pro", ["email_opt_in"] = true }));
        await _upstream.Publish(new CustomerUnsubscribed(Guid.NewGuid(), customer, Now.AddDays(-1), "email"));

        var profile = await ProfileWithEvents(customer, 5);

        Assert.Equal(customer, profile.Id);
        Assert.Equal("pro", profile.State.Attributes["plan"].Value.AsString);
        Assert.True(profile.State.Attributes["email_opt_in"].Value.AsBool);
        Assert.Equal(new EventTypeSummary(2, Now.AddDays(-5), Now.AddDays(-2)), profile.EventTypes["Purchased"]);
        Assert.Equal(new EventTypeSummary(1, Now.AddDays(-10), Now.AddDays(-10)), profile.EventTypes["SignedUp"]);
        Assert.Equal(1, profile.EventTypes["Unsubscribed"].Count);
        var purchases = (await _service.StoredEvents(customer)).Where(e => e.Type == "Purchased").OrderBy(e => e.OccurredAt).ToList();
        Assert.Equal(120.50, purchases.Single(e => e.Properties["orderId"].AsString == "o-1").Properties["amount"].AsNumber);
        Assert.Equal([Now.AddDays(-5), Now.AddDays(-2)], purchases.Select(e => e.OccurredAt));
    }

    [Fact]
    public async Task A_redelivered_event_is_stored_once()
    {
        var customer = NewCustomerId();
        var purchase = new OrderPurchased(Guid.NewGuid(), customer, Now.AddHours(-3), "o-9", 10m, "EUR");
        await _upstream.Publish(purchase);
        await _upstream.Publish(purchase);
        await _upstream.Publish(purchase);
        // A later, different event proves the duplicates were consumed before we look.
        var marker = new CustomerEvent(Guid.NewGuid(), customer, "PageViewed", Now.AddHours(-1));
        await _upstream.Publish(marker);

        await using var session = _service.Store.QuerySession();
        await Eventually.Get(() => HasEvent(customer, marker.EventId), seen => seen, "the marker event");

        var stored = await session.Events.FetchStreamAsync(customer);
        Assert.Single(stored, e => e.Data is CustomerEventRecorded r && r.EventId == purchase.EventId);
        Assert.Equal(2, stored.Count(e => e.Data is CustomerEventRecorded)); // the purchase and the marker
        var profile = await session.LoadAsync<CustomerProfile>(customer);
        Assert.Equal(1, profile!.EventTypes["Purchased"].Count);
    }

    [Fact]
    public async Task The_profile_is_the_same_whatever_order_the_events_arrive_in()
    {
        // Event ids are global, so each customer's copy of the history has ids of its own.
        static Guid Id(string customer, int n) => NameBasedGuid.Create($"{customer}/{n}");
        var events = new Func<string, ICustomerLifecycleEvent>[]
        {
            c => new CustomerSignedUp(Id(c, 1), c, Now.AddDays(-30), "x@example.com", "FR"),
            c => new ProfileUpdated(Id(c, 2), c, Now.AddDays(-20),
                new Dictionary<string, object?> { ["plan"] = "free", ["country"] = "FR" }),
            c => new ProfileUpdated(Id(c, 3), c, Now.AddDays(-10),
                new Dictionary<string, object?> { ["plan"] = "team" }),
            c => new OrderPurchased(Id(c, 4), c, Now.AddDays(-15), "o-1", 99m, "EUR"),
            c => new OrderPurchased(Id(c, 5), c, Now.AddDays(-1), "o-2", 5m, "EUR"),
        };
        var inOrder = NewCustomerId();
        var reversed = NewCustomerId();
        var shuffled = NewCustomerId();
        foreach (var e in events) await PublishTyped(e(inOrder));
        foreach (var e in events.Reverse()) await PublishTyped(e(reversed));
        foreach (var i in new[] { 3, 0, 4, 2, 1 }) await PublishTyped(events[i](shuffled));

        var inOrderProfile = await ProfileWithEvents(inOrder, events.Length);
        Assert.Equal("team", inOrderProfile.State.Attributes["plan"].Value.AsString);
        Assert.Equal("FR", inOrderProfile.State.Attributes["country"].Value.AsString);
        var expected = await Comparable(inOrderProfile);
        Assert.Equal(expected, await Comparable(await ProfileWithEvents(reversed, events.Length)));
        Assert.Equal(expected, await Comparable(await ProfileWithEvents(shuffled, events.Length)));
    }

    [Fact]
    public async Task A_plain_json_customer_event_from_a_non_dotnet_publisher_is_recorded()
    {
        var customer = NewCustomerId();
        var eventId = Guid.NewGuid();
        await _upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName, $$$"""
            {"eventId":"{{{eventId}}}","customerId":"{{{customer}}}","type":"TrialStarted",
             "occurredAt":"2026-11-20T08:00:00Z","properties":{"plan":"team","seats":5}}
            """);

        await ProfileWithEvents(customer, 1);
        var recorded = Assert.Single(await _service.StoredEvents(customer));
        Assert.Equal(("TrialStarted", eventId), (recorded.Type, recorded.EventId));
        Assert.Equal(5, recorded.Properties["seats"].AsNumber);
    }

    [Fact]
    public async Task Bad_messages_go_to_the_error_queue_with_the_reason_and_nothing_else_stops()
    {
        var customer = NewCustomerId();
        await _upstream.Publish(new OrderPurchased(Guid.NewGuid(), "", Now, "o-1", 1m, "EUR"));
        await _upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, Now.AddDays(2), "o-2", 1m, "EUR"));
        await _upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName, "{ this is not json");
        await _upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName,
            $$"""{"eventId":"{{Guid.NewGuid()}}","type":"PageViewed","occurredAt":"2026-11-20T08:00:00Z"}""");
        var good = new OrderPurchased(Guid.NewGuid(), customer, Now.AddMinutes(-1), "o-3", 7m, "EUR");
        await _upstream.Publish(good);

        await ProfileWithEvents(customer, 1);
        Assert.Equal(good.EventId, Assert.Single(await _service.StoredEvents(customer)).EventId);

        var typedErrors = await Eventually.Get(() => _upstream.Drain(CustomerEventEndpoints.QueueName + "_error"),
            m => m.Count >= 2, "two typed messages in the error queue");
        var reasons = typedErrors.Select(UpstreamPublisher.FaultReason).ToList();
        Assert.Contains(reasons, r => r.Contains("customerId is required", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("is in the future", StringComparison.Ordinal));

        var rawErrors = await Eventually.Get(() => _upstream.Drain(CustomerEventEndpoints.RawQueueName + "_error"),
            m => m.Count >= 2, "two raw messages in the error queue");
        Assert.Contains(rawErrors, m => Encoding.UTF8.GetString(m.Body.Span) == "{ this is not json");
        Assert.Contains(rawErrors.Select(UpstreamPublisher.FaultReason), r => r.Contains("customerId is required", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_instances_racing_on_the_same_customers_lose_no_event_and_store_none_twice()
    {
        await using var second = await ServiceUnderTest.Start(servers, _time);
        var customers = Enumerable.Range(0, 4).Select(_ => NewCustomerId()).ToArray();
        var purchases = Enumerable.Range(0, 200)
            .Select(i => new OrderPurchased(Guid.NewGuid(), customers[i % customers.Length], Now.AddMinutes(-i), $"o-{i}", i, "EUR"))
            .ToList();
        await Task.WhenAll(purchases.Select(p => _upstream.Publish(p)));
        await Task.WhenAll(purchases.Take(40).Select(p => _upstream.Publish(p)));

        foreach (var customer in customers)
        {
            Assert.Empty((await _upstream.Drain(CustomerEventEndpoints.QueueName + "_error")).Select(UpstreamPublisher.FaultReason));
            var expected = purchases.Where(p => p.CustomerId == customer).Select(p => p.EventId).Order().ToList();
            var profile = await ProfileWithEvents(customer, expected.Count);
            await using var session = _service.Store.QuerySession();
            var stored = (await session.Events.FetchStreamAsync(customer))
                .Select(e => e.Data).OfType<CustomerEventRecorded>().Select(e => e.EventId).Order().ToList();
            Assert.Equal(expected, stored);
            // The profile counted each once, in its summary and in the engine's running total.
            Assert.Equal((expected.Count, expected.Count), (profile.EventTypes["Purchased"].Count, (int)profile.State.Running["Purchased|"].Count));
        }
    }

    private Task PublishTyped(ICustomerLifecycleEvent message) => message switch
    {
        CustomerSignedUp m => _upstream.Publish(m),
        OrderPurchased m => _upstream.Publish(m),
        ProfileUpdated m => _upstream.Publish(m),
        CustomerUnsubscribed m => _upstream.Publish(m),
        CustomerEvent m => _upstream.Publish(m),
        _ => throw new ArgumentOutOfRangeException(nameof(message)),
    };

    /// <summary>The profile once the customer's stream holds <paramref name="count"/> events.</summary>
    private async Task<CustomerProfile> ProfileWithEvents(string customer, int count)
    {
        await Eventually.Get(() => _service.StoredEvents(customer), events => events.Count >= count, $"customer {customer} with {count} events");
        await using var session = _service.Store.QuerySession();
        return (await session.LoadAsync<CustomerProfile>(customer))!;
    }

    private async Task<bool> HasEvent(string customer, Guid eventId) =>
        (await _service.StoredEvents(customer)).Any(e => e.EventId == eventId);

    /// <summary>The profile and the stored history without event ids, which differ between customers.</summary>
    private async Task<string> Comparable(CustomerProfile profile) => JsonSerializer.Serialize(new
    {
        Attributes = profile.State.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => (a.Key, a.Value.Value, a.Value.OccurredAt)),
        EventTypes = profile.EventTypes.OrderBy(a => a.Key, StringComparer.Ordinal),
        Running = profile.State.Running.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => (r.Key, r.Value.Count, r.Value.Sum, r.Value.Min, r.Value.Max, r.Value.FirstTicks, r.Value.LastTicks)),
        History = (await _service.StoredEvents(profile.Id))
            .Select(e => (e.Type, e.OccurredAt, Properties: e.Properties.OrderBy(p => p.Key, StringComparer.Ordinal)))
            .OrderBy(e => e.Type, StringComparer.Ordinal).ThenBy(e => e.OccurredAt),
    }, new JsonSerializerOptions { IncludeFields = true });

    private static string NewCustomerId() => $"c-{Guid.NewGuid():N}";
}
