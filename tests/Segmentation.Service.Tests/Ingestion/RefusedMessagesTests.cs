using System.Diagnostics.Metrics;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Tests.Ingestion;

/// <summary>
/// What an attacker-style publisher sends, on the typed endpoint (MassTransit) and on the raw one (plain JSON): each
/// bad message lands in that endpoint's error queue with a reason a publisher understands, and a good message sent
/// after it is still stored.
/// </summary>
public sealed class RefusedMessagesTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private ServiceUnderTest _service = null!;
    private UpstreamPublisher _upstream = null!;

    public enum Endpoint { Typed, Raw }

    /// <summary>One upstream event, publishable on either endpoint (the typed one needs a GUID event id).</summary>
    private sealed record Sent(string EventId, string CustomerId, string Type, DateTimeOffset OccurredAt, Dictionary<string, object?> Properties);

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

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task A_customer_id_of_ten_thousand_characters_is_refused(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint, Good() with { CustomerId = new string('c', 10_000) },
            "customerId is 10000 characters long, at most 128 are accepted");

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task A_customer_id_with_a_space_is_refused(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint, Good() with { CustomerId = "c 42" },
            "customerId must be printable ASCII without spaces ('!' to '~'), has U+0020 at position 1");

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task More_properties_than_the_limit_are_refused(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint, Good() with { Properties = Enumerable.Range(0, 65).ToDictionary(i => $"p{i}", i => (object?)i) },
            "properties has 65 entries, at most 64 are accepted");

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task A_string_value_longer_than_the_limit_is_refused(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint, Good() with { Properties = new() { ["note"] = new string('x', 4097) } },
            "properties.note is 4097 characters long, at most 4096 are accepted");

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task A_message_larger_than_the_limit_is_refused(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint,
            Good() with { Properties = Enumerable.Range(0, 20).ToDictionary(i => $"p{i}", _ => (object?)new string('x', 4000)) },
            "bytes, at most 65536 are accepted");

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task A_purchase_with_a_negative_amount_is_refused_whatever_contract_carries_it(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint, Good() with { Type = WellKnownEventTypes.Purchased, Properties = new() { ["amount"] = -5 } },
            "amount must not be negative, was -5");

    /// <summary>
    /// PostgreSQL refuses a NUL character in jsonb: the event can never be stored. Marten keeps the failed command in the
    /// exception's Data, which MassTransit once failed to serialise, so the header named a MassTransit proxy, not this.
    /// </summary>
    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public Task An_event_postgresql_can_never_store_is_refused_with_the_servers_reason(Endpoint endpoint) =>
        RefusedWhileGoodIsStored(endpoint, Good() with { Properties = new() { ["note"] = "a\u0000b" } },
            "22P05: unsupported Unicode escape sequence");

    [Theory]
    [InlineData("null", "the message body is null; expected a JSON object")]
    [InlineData("", "the message body is empty; expected a JSON object")]
    [InlineData("{ this is not json", "the message body is not valid JSON")]
    [InlineData("[1, 2]", "the message body is a JSON StartArray; expected a JSON object")]
    public async Task A_raw_body_that_is_not_a_json_object_is_refused_with_a_clear_reason(string body, string reason)
    {
        await _upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName, body);
        await GoodIsStored(Endpoint.Raw);
        await ReasonInErrorQueue(Endpoint.Raw, reason);
    }

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public async Task An_event_id_reused_by_another_customer_is_refused_and_stored_once(Endpoint endpoint)
    {
        using var conflicts = ConflictingIdCounter();
        var first = await GoodIsStored(endpoint);

        var reused = Good() with { EventId = first.EventId };
        await RefusedWhileGoodIsStored(endpoint, reused,
            $"event id {first.EventId} was already recorded for customer {first.CustomerId}; an event id names one occurrence across all customers");
        Assert.Null(await Profile(reused.CustomerId));
        Assert.Equal(["customer"], conflicts.GetMeasurementSnapshot().Select(m => (string)m.Tags["reason"]!));
    }

    [Theory]
    [InlineData(Endpoint.Typed)]
    [InlineData(Endpoint.Raw)]
    public async Task An_event_id_reused_with_different_content_is_refused_not_dropped(Endpoint endpoint)
    {
        using var conflicts = ConflictingIdCounter();
        var first = await GoodIsStored(endpoint);

        await RefusedWhileGoodIsStored(endpoint, first with { Properties = new() { ["page"] = "/other" } },
            $"event id {first.EventId} was already recorded for customer {first.CustomerId} with different content");
        Assert.Equal(["content"], conflicts.GetMeasurementSnapshot().Select(m => (string)m.Tags["reason"]!));
    }

    [Fact]
    public async Task A_raw_event_with_a_ulid_event_id_is_stored_once_however_often_it_is_delivered()
    {
        var ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        var customer = NewCustomerId();
        var sent = Good() with { EventId = ulid, CustomerId = customer, Properties = new() { ["page"] = "/pricing", ["seats"] = 5 } };
        await Publish(Endpoint.Raw, sent);
        await Publish(Endpoint.Raw, sent with { Properties = new(sent.Properties.Reverse()) });
        var marker = Good() with { CustomerId = customer, OccurredAt = Now.AddMinutes(-1) };
        await Publish(Endpoint.Raw, marker);

        await Stored(marker);
        var history = (await _service.StoredEvents(customer)).OrderBy(e => e.OccurredAt).ToList();
        Assert.Equal([EventIds.ToGuid(ulid), EventIds.ToGuid(marker.EventId)], history.Select(e => e.EventId));
        Assert.Empty(await _upstream.Drain(CustomerEventEndpoints.RawQueueName + "_error"));
    }

    [Fact]
    public async Task Concurrent_first_deliveries_of_one_event_id_for_two_customers_store_it_once_and_refuse_the_other()
    {
        await using var second = await ServiceUnderTest.Start(servers, _time);
        var pairs = Enumerable.Range(0, 30).Select(_ => (First: Good(), Other: NewCustomerId())).ToList();
        await Task.WhenAll(pairs.SelectMany(p => new[]
        {
            Publish(Endpoint.Typed, p.First),
            Publish(Endpoint.Typed, p.First with { CustomerId = p.Other }),
        }));

        var reasons = new List<string>();
        await Eventually.Get(async () =>
        {
            reasons.AddRange((await _upstream.Drain(CustomerEventEndpoints.QueueName + "_error")).Select(UpstreamPublisher.FaultReason));
            return reasons.Count;
        }, count => count >= pairs.Count, $"{pairs.Count} refusals");
        Assert.All(reasons, r => Assert.Contains("was already recorded for customer", r, StringComparison.Ordinal));

        await using var session = _service.Store.QuerySession();
        foreach (var (first, other) in pairs)
        {
            var holders = new List<string>();
            foreach (var customer in new[] { first.CustomerId, other })
            {
                if ((await _service.StoredEvents(customer)).Count > 0)
                    holders.Add(customer);
            }
            Assert.Single(holders);
        }
    }

    private MetricCollector<long> ConflictingIdCounter() =>
        new(_service.Services.GetRequiredService<IMeterFactory>(), SegmentationMetrics.MeterName, "segmentation.events.conflicting_id");

    private async Task RefusedWhileGoodIsStored(Endpoint endpoint, Sent bad, string reason)
    {
        await Publish(endpoint, bad);
        await GoodIsStored(endpoint);
        await ReasonInErrorQueue(endpoint, reason);
    }

    private async Task<Sent> GoodIsStored(Endpoint endpoint)
    {
        var good = Good();
        await Publish(endpoint, good);
        await Stored(good);
        return good;
    }

    /// <summary>Waits for a refusal with this reason in the endpoint's error queue, taking what else is there too.</summary>
    private async Task ReasonInErrorQueue(Endpoint endpoint, string reason)
    {
        var queue = (endpoint == Endpoint.Typed ? CustomerEventEndpoints.QueueName : CustomerEventEndpoints.RawQueueName) + "_error";
        var reasons = new List<string>();
        await Eventually.Get(async () =>
        {
            reasons.AddRange((await _upstream.Drain(queue)).Select(UpstreamPublisher.FaultReason));
            return string.Join(" | ", reasons);
        }, seen => seen.Contains(reason, StringComparison.Ordinal), $"'{reason}' in {queue}");
    }

    private Task Publish(Endpoint endpoint, Sent e) => endpoint == Endpoint.Typed
        ? _upstream.Publish(new CustomerEvent(Guid.Parse(e.EventId), e.CustomerId, e.Type, e.OccurredAt, e.Properties))
        : _upstream.PublishRaw(CustomerEventEndpoints.RawExchangeName, JsonSerializer.Serialize(new
        {
            eventId = e.EventId,
            customerId = e.CustomerId,
            type = e.Type,
            occurredAt = e.OccurredAt,
            properties = e.Properties,
        }));

    private async Task<CustomerProfile> Stored(Sent e)
    {
        var id = EventIds.ToGuid(e.EventId).ToString();
        await Eventually.Get(() => _service.StoredEvents(e.CustomerId), events => events.Any(r => r.EventId.ToString() == id),
            $"event {e.EventId} of customer {e.CustomerId} stored");
        return (await Profile(e.CustomerId))!;
    }

    private async Task<CustomerProfile?> Profile(string customerId)
    {
        await using var session = _service.Store.QuerySession();
        return await session.LoadAsync<CustomerProfile>(customerId);
    }

    private static Sent Good() =>
        new(Guid.NewGuid().ToString(), NewCustomerId(), "PageViewed", Now.AddHours(-1), new() { ["page"] = "/pricing" });

    private static string NewCustomerId() => $"c-{Guid.NewGuid():N}";
}
