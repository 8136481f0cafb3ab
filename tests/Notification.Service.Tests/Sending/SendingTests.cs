using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using Notification.Service.Sending;
using Notification.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;
using Segmentation.Service.Tests.Infrastructure;

namespace Notification.Service.Tests.Sending;

/// <summary>
/// Through real RabbitMQ and PostgreSQL: SegmentEntered published like the segmentation service does →
/// rows in the notification tables. Outcomes are awaited by polling; time passes only on the fake clock.
/// </summary>
public sealed class SendingTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private static readonly TimeSpan ContactCooldown = TimeSpan.FromHours(24);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));
    private NotificationUnderTest _service = null!;

    public async Task InitializeAsync() =>
        _service = await NotificationUnderTest.Start(servers, _time, new Dictionary<string, TimeSpan> { ["contact"] = ContactCooldown });

    public async Task DisposeAsync() => await _service.DisposeAsync();

    [Fact]
    public async Task An_entry_with_a_channel_is_sent_exactly_once()
    {
        using var sent = Collect(NotificationMetrics.Sends);
        var customer = NewCustomer();
        var id = Guid.NewGuid();
        var entry = Entered(customer, "welcome_day_3", "contact", "email");

        await _service.Publish(id, entry);

        var sends = await SendsTo(customer, count => count >= 1);
        var send = Assert.Single(sends);
        Assert.Equal(id, send.MessageId);
        Assert.Equal(("welcome_day_3", "contact", "email", "v1"), (send.Segment, send.Group, send.Channel, send.RulesetVersion));
        Assert.Equal(entry.EnteredAt, send.EnteredAt);
        Assert.Equal(_time.GetUtcNow(), send.SentAt);
        Assert.Equal(1, Total(sent));
    }

    [Fact]
    public async Task The_same_message_id_delivered_twice_is_sent_once()
    {
        using var duplicates = Collect(NotificationMetrics.Duplicates);
        var customer = NewCustomer();
        var id = Guid.NewGuid();
        var entry = Entered(customer, "vip", group: null, "sms");

        await _service.Publish(id, entry);
        await _service.Publish(id, entry);

        await Eventually.Get(() => Task.FromResult(Total(duplicates)), n => n >= 1, "the second delivery to be seen as a duplicate");
        var send = Assert.Single(await _service.Ledger.Sends(customer, CancellationToken.None));
        Assert.Equal(id, send.MessageId);
        Assert.Equal(1, Total(duplicates));
    }

    [Fact]
    public async Task An_entry_without_a_channel_sends_nothing()
    {
        using var skipped = Collect(NotificationMetrics.Skipped);
        var customer = NewCustomer();

        await _service.Publish(Guid.NewGuid(), Entered(customer, "vip", group: null, channel: null));

        await Eventually.Get(() => Task.FromResult(Total(skipped)), n => n >= 1, "the entry without a channel to be consumed");
        Assert.Empty(await _service.Ledger.Sends(customer, CancellationToken.None));
        Assert.Empty(await _service.Ledger.Refusals(customer, CancellationToken.None));
    }

    [Fact]
    public async Task A_second_entry_in_the_group_within_the_cooldown_is_refused_and_counted_then_sent_after_it()
    {
        using var refused = Collect(NotificationMetrics.Refused);
        using var duplicates = Collect(NotificationMetrics.Duplicates);
        var customer = NewCustomer();
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        var third = Guid.NewGuid();

        await _service.Publish(first, Entered(customer, "welcome_day_3", "contact", "email"));
        await SendsTo(customer, count => count >= 1);

        _time.Advance(ContactCooldown - TimeSpan.FromMinutes(1));
        var secondEntry = Entered(customer, "big_spender", "contact", "email");
        await _service.Publish(second, secondEntry);

        var refusal = Assert.Single(await RefusalsTo(customer, count => count >= 1));
        Assert.Equal((second, "cooldown"), (refusal.MessageId, refusal.Reason));
        var measurement = Assert.Single(refused.GetMeasurementSnapshot());
        Assert.Equal(1, measurement.Value);
        Assert.Equal("cooldown", measurement.Tags["reason"]);
        Assert.Equal("contact", measurement.Tags["group"]);
        Assert.Equal(first, Assert.Single(await _service.Ledger.Sends(customer, CancellationToken.None)).MessageId);

        _time.Advance(TimeSpan.FromMinutes(1));
        await _service.Publish(third, Entered(customer, "win_back", "contact", "push"));
        var sends = await SendsTo(customer, count => count >= 2);
        Assert.Equal([first, third], sends.Select(s => s.MessageId));
        Assert.Equal(_time.GetUtcNow(), sends[1].SentAt);

        // A redelivery of the refused message stays refused: the decision is final per message id.
        await _service.Publish(second, secondEntry);
        await Eventually.Get(() => Task.FromResult(Total(duplicates)), n => n >= 1, "the refused message's redelivery to be a duplicate");
        Assert.Equal(2, (await _service.Ledger.Sends(customer, CancellationToken.None)).Count);
        Assert.Equal(1, Total(refused));

        var summary = await _service.Ledger.Summary(CancellationToken.None);
        Assert.Contains(summary, row => row is { Segment: "big_spender", Channel: "email", Refused: >= 1 });
    }

    [Fact]
    public async Task Concurrent_entries_in_one_group_for_one_customer_send_exactly_one()
    {
        using var sent = Collect(NotificationMetrics.Sends);
        using var refused = Collect(NotificationMetrics.Refused);
        var customer = NewCustomer();
        const int entries = 40;

        await Task.WhenAll(Enumerable.Range(0, entries).Select(i =>
            _service.Publish(Guid.NewGuid(), Entered(customer, $"segment_{i}", "contact", "email"))));

        await Eventually.Get(() => Task.FromResult(Total(sent) + Total(refused)), n => n >= entries, "every entry to be decided");
        Assert.Single(await _service.Ledger.Sends(customer, CancellationToken.None));
        Assert.Equal(entries - 1, (await _service.Ledger.Refusals(customer, CancellationToken.None)).Count);
        Assert.Equal((1, entries - 1), (Total(sent), Total(refused)));
    }

    [Fact]
    public async Task Groups_without_a_cooldown_are_not_checked()
    {
        var customer = NewCustomer();

        await _service.Publish(Guid.NewGuid(), Entered(customer, "vip", "loyalty", "email"));
        await _service.Publish(Guid.NewGuid(), Entered(customer, "vip_plus", "loyalty", "email"));

        await SendsTo(customer, count => count >= 2);
        Assert.Empty(await _service.Ledger.Refusals(customer, CancellationToken.None));
    }

    private MetricCollector<long> Collect(string instrument) =>
        new(_service.MeterFactory, NotificationMetrics.MeterName, instrument);

    private static long Total(MetricCollector<long> collector) =>
        collector.GetMeasurementSnapshot().Sum(m => m.Value);

    private Task<IReadOnlyList<SendRecord>> SendsTo(string customer, Func<int, bool> done) =>
        Eventually.Get(() => _service.Ledger.Sends(customer, CancellationToken.None), sends => done(sends.Count), $"sends to {customer}");

    private Task<IReadOnlyList<RefusalRecord>> RefusalsTo(string customer, Func<int, bool> done) =>
        Eventually.Get(() => _service.Ledger.Refusals(customer, CancellationToken.None), refusals => done(refusals.Count), $"refusals to {customer}");

    private static string NewCustomer() => $"c-{Guid.NewGuid():N}"[..14];

    private SegmentEntered Entered(string customer, string segment, string? group, string? channel) =>
        new(customer, segment, group, channel, "v1", _time.GetUtcNow().AddHours(-1));
}
