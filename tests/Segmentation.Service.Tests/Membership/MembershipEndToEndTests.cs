using Marten;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Notification.Service.Sending;
using Segmentation.Service.Tests.Infrastructure;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Tests.Membership;

/// <summary>
/// The whole path with the example ruleset: upstream publish → ingestion → engine → claim → relay → RabbitMQ →
/// a downstream observer and the real notification service.
/// </summary>
public sealed class MembershipEndToEndTests(IsolatedServers servers) : IClassFixture<IsolatedServers>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private ServiceUnderTest _service = null!;
    private IHost _notification = null!;
    private UpstreamPublisher _upstream = null!;
    private SegmentEventObserver _observer = null!;

    public async Task InitializeAsync()
    {
        _observer = await SegmentEventObserver.Connect(servers);
        _service = await ServiceUnderTest.Start(servers, _time, s => s with { RulesetPath = ExampleRuleset.Path });
        _notification = await NotificationHost.Start(servers, _time);
        _upstream = await UpstreamPublisher.Connect(servers);
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        await _notification.StopAsync();
        _notification.Dispose();
        await _service.DisposeAsync();
        await _observer.DisposeAsync();
    }

    [Fact]
    public async Task A_big_purchase_enters_big_spender_on_the_bus_and_the_notification_service_sends_once()
    {
        var customer = NewCustomerId();
        await _upstream.Publish(new CustomerSignedUp(Guid.NewGuid(), customer, Now.AddDays(-1), "big@example.com", "DE"));
        await _upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, Now.AddMinutes(-10), "o-1", 650m, "EUR"));

        var entered = Assert.Single(await _observer.EnteredBy(customer, 1));
        Assert.Equal(("big_spender", "contact", "email"), (entered.Segment, entered.Group, entered.Channel));
        Assert.StartsWith("r-", entered.RulesetVersion, StringComparison.Ordinal);
        Assert.Equal(Now, entered.EnteredAt); // decided when the purchase was processed

        var ledger = _notification.Services.GetRequiredService<SendLedger>();
        var send = Assert.Single(await Eventually.Get(() => ledger.Sends(customer, default), s => s.Count >= 1, "the send"));
        Assert.Equal(("big_spender", "email"), (send.Segment, send.Channel));
        Assert.Equal(_observer.Entered.Single(e => e.Message.CustomerId == customer).MessageId, send.MessageId);
    }

    [Fact]
    public async Task Welcome_day_3_fires_three_days_after_signup_with_no_new_event()
    {
        var customer = NewCustomerId();
        var signedUpAt = _time.GetUtcNow();
        await _upstream.Publish(new CustomerSignedUp(Guid.NewGuid(), customer, signedUpAt, "new@example.com", "FR"));
        await _upstream.Publish(new ProfileUpdated(Guid.NewGuid(), customer, signedUpAt,
            new Dictionary<string, object?> { ["email_opt_in"] = true, ["plan"] = "free" }));
        await Eventually.Get(() => _service.StoredEvents(customer), events => events.Count == 2, "both events stored");
        Assert.DoesNotContain(_observer.Entered, e => e.Message.CustomerId == customer);
        Assert.InRange((await Profile(customer))!.NextCheckAt!.Value, signedUpAt, signedUpAt.AddDays(3));

        _time.Advance(TimeSpan.FromDays(3));

        var entered = Assert.Single(await _observer.EnteredBy(customer, 1));
        Assert.Equal("welcome_day_3", entered.Segment);
        Assert.Equal(signedUpAt.AddDays(3), entered.EnteredAt);
    }

    [Fact]
    public async Task The_admin_view_shows_held_and_blocked_segments_with_since_and_version()
    {
        var customer = NewCustomerId();
        await _upstream.Publish(new OrderPurchased(Guid.NewGuid(), customer, Now.AddDays(-80), "o-1", 700m, "EUR"));
        await _upstream.Publish(new ProfileUpdated(Guid.NewGuid(), customer, Now.AddDays(-1),
            new Dictionary<string, object?> { ["plan"] = "pro" }));

        var profile = await Eventually.Get(() => Profile(customer), p => p?.Blocked.Count > 0, "win_back blocked");
        var view = Segmentation.Service.Admin.CustomerView.Of(profile!);
        Assert.Equal(["big_spender"], view.Segments.Keys);
        Assert.Equal(Now, view.Segments["big_spender"].Since);
        Assert.Equal(profile!.RulesetVersion, view.Segments["big_spender"].RulesetVersion);
        var blocked = Assert.Single(view.Blocked);
        Assert.Equal(("win_back", "held by big_spender"), (blocked.Segment, blocked.Reason));
    }

    private async Task<Segmentation.Service.Profiles.CustomerProfile?> Profile(string customer)
    {
        await using var session = _service.Store.QuerySession();
        return await session.LoadAsync<Segmentation.Service.Profiles.CustomerProfile>(customer);
    }

    private static string NewCustomerId() => $"c-{Guid.NewGuid():N}";
}
