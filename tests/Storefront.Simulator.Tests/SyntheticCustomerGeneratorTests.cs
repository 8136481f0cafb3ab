using System.Text.Json;
using SegmentationEvents.Contracts;
using Storefront.Simulator.Generation;

namespace Storefront.Simulator.Tests;

public class SyntheticCustomerGeneratorTests
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static List<ICustomerLifecycleEvent> Generate(int customers = 50, int events = 2_000, int seed = 42, double days = 30) =>
        new SyntheticCustomerGenerator(new SimulationSettings(customers, events, seed, Start, TimeSpan.FromDays(days)))
            .Generate().ToList();

    private static string Json(IEnumerable<ICustomerLifecycleEvent> events) =>
        string.Join('\n', events.Select(e => e.GetType().Name + JsonSerializer.Serialize(e, e.GetType())));

    [Fact]
    public void Same_seed_and_settings_give_identical_events()
    {
        Assert.Equal(Json(Generate(seed: 7)), Json(Generate(seed: 7)));
    }

    [Fact]
    public void Enumerating_twice_gives_the_same_events()
    {
        var generator = new SyntheticCustomerGenerator(new SimulationSettings(20, 300, 3, Start, TimeSpan.FromDays(5)));
        Assert.Equal(Json(generator.Generate()), Json(generator.Generate()));
    }

    [Fact]
    public void Different_seeds_give_different_customers_and_ids()
    {
        var a = Generate(seed: 1);
        var b = Generate(seed: 2);
        Assert.Empty(a.Select(e => e.EventId).Intersect(b.Select(e => e.EventId)));
        Assert.Empty(a.Select(e => e.CustomerId).Intersect(b.Select(e => e.CustomerId)));
    }

    [Fact]
    public void Produces_exactly_the_requested_number_of_events_for_every_customer()
    {
        var events = Generate(customers: 37, events: 1_234);
        Assert.Equal(1_234, events.Count);
        Assert.Equal(37, events.Select(e => e.CustomerId).Distinct().Count());
    }

    [Fact]
    public void Each_customer_signs_up_first_then_sets_a_full_profile()
    {
        foreach (var customer in Generate().GroupBy(e => e.CustomerId))
        {
            var list = customer.ToList();
            Assert.IsType<CustomerSignedUp>(list[0]);
            var profile = Assert.IsType<ProfileUpdated>(list[1]);
            Assert.Equal(
                [SyntheticCustomerGenerator.Attributes.Country, SyntheticCustomerGenerator.Attributes.EmailOptIn, SyntheticCustomerGenerator.Attributes.Plan],
                profile.Attributes.Keys.Order(StringComparer.Ordinal));
            Assert.DoesNotContain(list.Skip(1), e => e is CustomerSignedUp);
        }
    }

    [Fact]
    public void Occurrence_times_strictly_increase_per_customer_and_stay_in_the_span()
    {
        var events = Generate(days: 10);
        foreach (var customer in events.GroupBy(e => e.CustomerId))
        {
            var times = customer.Select(e => e.OccurredAt).ToList();
            Assert.All(times.Zip(times.Skip(1)), pair => Assert.True(pair.Second > pair.First, $"{customer.Key}: {pair.First:O} then {pair.Second:O}"));
        }

        Assert.All(events, e => Assert.InRange(e.OccurredAt, Start, Start.AddDays(10).AddSeconds(1)));
        Assert.Equal(events.Select(e => e.OccurredAt), events.Select(e => e.OccurredAt).Order());
    }

    [Fact]
    public void Occurrence_times_strictly_increase_even_when_the_span_is_crowded()
    {
        // Two seconds for 1,000 events per customer: many fall in the same millisecond.
        var events = Generate(customers: 2, events: 2_000, days: 2.0 / 86_400);
        foreach (var customer in events.GroupBy(e => e.CustomerId))
        {
            var times = customer.Select(e => e.OccurredAt).ToList();
            Assert.Equal(times.Count, times.Distinct().Count());
            Assert.Equal(times, times.Order());
        }
    }

    [Fact]
    public void Customers_interleave()
    {
        var customers = Generate().Take(200).Select(e => e.CustomerId).ToList();
        var switches = customers.Zip(customers.Skip(1)).Count(pair => pair.First != pair.Second);
        Assert.True(switches > 50, $"only {switches} switches between customers in the first 200 events");
    }

    [Fact]
    public void Event_ids_and_order_ids_are_unique()
    {
        var events = Generate(customers: 200, events: 20_000);
        Assert.Equal(events.Count, events.Select(e => e.EventId).Distinct().Count());
        var orders = events.OfType<OrderPurchased>().Select(o => o.OrderId).ToList();
        Assert.Equal(orders.Count, orders.Distinct().Count());
    }

    [Fact]
    public void Event_ids_depend_only_on_seed_and_position()
    {
        var events = Generate(seed: 9);
        Assert.Equal(DeterministicIds.EventId(9, 0), events[0].EventId);
        Assert.Equal(DeterministicIds.EventId(9, 1_999), events[^1].EventId);
    }

    [Fact]
    public void The_mix_has_every_kind_of_event_with_valid_values()
    {
        var events = Generate(customers: 100, events: 10_000);
        var purchases = events.OfType<OrderPurchased>().ToList();
        var generic = events.OfType<CustomerEvent>().ToList();

        Assert.NotEmpty(events.OfType<CustomerUnsubscribed>());
        Assert.All(events.OfType<CustomerUnsubscribed>(), u => Assert.Equal("email", u.Channel));
        Assert.Contains(generic, e => e.Type == SyntheticCustomerGenerator.PageViewed);
        Assert.Contains(generic, e => e.Type == SyntheticCustomerGenerator.CartAbandoned);
        Assert.InRange(purchases.Count, 1_500, 3_500);
        Assert.All(purchases, p => Assert.Equal("EUR", p.Currency));
        Assert.All(purchases, p => Assert.InRange(p.Amount, 1m, 5_000m));

        // Skewed amounts: the mean is well above the median.
        var amounts = purchases.Select(p => p.Amount).Order().ToList();
        Assert.True(amounts.Average() > amounts[amounts.Count / 2] * 1.2m);

        var plans = events.OfType<ProfileUpdated>()
            .Where(p => p.Attributes.ContainsKey(SyntheticCustomerGenerator.Attributes.Plan))
            .Select(p => (string)p.Attributes[SyntheticCustomerGenerator.Attributes.Plan]!).Distinct();
        Assert.Subset(SyntheticCustomerGenerator.Plans.ToHashSet(), plans.ToHashSet());
        Assert.All(events.OfType<ProfileUpdated>(), p => Assert.All(p.Attributes.Values, v => Assert.True(v is string or bool)));
    }

    [Fact]
    public void Fewer_events_than_two_per_customer_still_start_with_sign_ups()
    {
        var events = Generate(customers: 100, events: 30);
        Assert.Equal(30, events.Count);
        foreach (var customer in events.GroupBy(e => e.CustomerId))
        {
            Assert.IsType<CustomerSignedUp>(customer.First());
        }
    }

    [Fact]
    public void Invalid_settings_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticCustomerGenerator(new SimulationSettings(0, 10, 1, Start, TimeSpan.FromDays(1))));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticCustomerGenerator(new SimulationSettings(1, 10, 1, Start, TimeSpan.Zero)));
    }
}
