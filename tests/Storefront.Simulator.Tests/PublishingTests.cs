using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using SegmentationEvents.Contracts;
using Storefront.Simulator.Generation;
using SegmentationEvents.ServiceDefaults;
using Storefront.Simulator.Publishing;

namespace Storefront.Simulator.Tests;

public class PublishingTests
{
    [Fact]
    public void Rate_pacer_allows_what_the_elapsed_time_has_earned()
    {
        var clock = new FakeTimeProvider();
        var pacer = new RatePacer(clock, eventsPerSecond: 100, maxBurst: 50);
        Assert.Equal(0, pacer.Allowance(0));
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(10, pacer.Allowance(0));
        Assert.Equal(0, pacer.Allowance(10));
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(50, pacer.Allowance(10)); // capped burst
    }

    [Fact]
    public void Rate_zero_is_unlimited()
    {
        var pacer = new RatePacer(new FakeTimeProvider(), 0, maxBurst: 64);
        Assert.True(pacer.Unlimited);
        Assert.Equal(64, pacer.Allowance(1_000_000));
    }

    [Theory]
    [InlineData("amqp://seg:seg@127.0.0.1:5672/segmentation", "127.0.0.1", 5672, "segmentation", "seg", "seg")]
    [InlineData("amqp://u:p%40ss@rabbit/", "rabbit", 5672, "/", "u", "p@ss")]
    [InlineData("amqp://localhost:5673/%2F", "localhost", 5673, "/", "guest", "guest")]
    public void Parses_amqp_urls(string url, string host, int port, string vhost, string user, string password)
    {
        Assert.Equal(new RabbitMqAddress(host, (ushort)port, vhost, user, password), RabbitMqAddress.Parse(url));
    }

    [Fact]
    public void Rejects_urls_that_are_not_amqp() =>
        Assert.Throws<FormatException>(() => RabbitMqAddress.Parse("http://localhost"));

    [Fact]
    public async Task Publishes_every_event_as_its_concrete_type_with_the_event_id_as_message_id()
    {
        await using var provider = new ServiceCollection().AddMassTransitTestHarness().BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();

        var settings = new SimulationSettings(10, 200, 5, DateTimeOffset.UnixEpoch, TimeSpan.FromDays(3));
        var events = new SyntheticCustomerGenerator(settings).Generate().ToList();
        var summary = await new SimulatorPublisher(harness.Bus, TimeProvider.System, TextWriter.Null)
            .RunAsync(events, eventsPerSecond: 0, CancellationToken.None);

        Assert.Equal(200, summary.Published);
        Assert.False(summary.Cancelled);
        var published = harness.Published.Select<ICustomerLifecycleEvent>().ToList();
        Assert.Equal(200, published.Count);
        Assert.All(published, p => Assert.Equal(((ICustomerLifecycleEvent)p.MessageObject).EventId, p.Context.MessageId));
        Assert.Equal(
            events.Count(e => e is OrderPurchased),
            harness.Published.Select<OrderPurchased>().Count());
        Assert.Equal(10, harness.Published.Select<CustomerSignedUp>().Count());
    }

    [Fact]
    public async Task Stops_when_cancelled_and_reports_what_was_published()
    {
        await using var provider = new ServiceCollection().AddMassTransitTestHarness().BuildServiceProvider(true);
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        var events = new SyntheticCustomerGenerator(new SimulationSettings(10, 100_000, 5, DateTimeOffset.UnixEpoch, TimeSpan.FromDays(3))).Generate();

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var summary = await new SimulatorPublisher(harness.Bus, TimeProvider.System, TextWriter.Null)
            .RunAsync(events, eventsPerSecond: 100, cancel.Token);

        Assert.True(summary.Cancelled);
        Assert.InRange(summary.Published, 1, 100);
    }
}
