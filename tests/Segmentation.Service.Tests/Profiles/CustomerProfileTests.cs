using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Tests.Profiles;

public sealed class CustomerProfileTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_latest_attribute_value_by_occurrence_time_wins_even_when_it_arrives_first()
    {
        var profile = new CustomerProfile();
        profile.Apply(Update(Guid.NewGuid(), T0.AddDays(2), "plan", "team"));
        profile.Apply(Update(Guid.NewGuid(), T0.AddDays(1), "plan", "free"));

        Assert.Equal("team", profile.State.Attributes["plan"].Value.AsString);
        Assert.Equal(T0.AddDays(2), profile.State.Attributes["plan"].OccurredAt);
    }

    [Fact]
    public void A_redelivered_event_is_recognised_and_not_counted_twice()
    {
        var profile = new CustomerProfile();
        var purchase = new CustomerEventRecorded(Guid.NewGuid(), "Purchased", T0, new Dictionary<string, Value>());
        profile.Apply(purchase);
        profile.Apply(purchase);

        Assert.True(profile.Holds(purchase));
        Assert.False(profile.Holds(purchase with { EventId = Guid.NewGuid() }));
        Assert.False(profile.Holds(purchase with { OccurredAt = T0.AddTicks(1) }));
        Assert.Equal(1, profile.EventTypes["Purchased"].Count);
    }

    [Fact]
    public void History_stays_in_occurrence_order_and_type_summaries_track_first_and_last()
    {
        var profile = new CustomerProfile();
        foreach (var day in new[] { 5, 1, 3 })
            profile.Apply(new CustomerEventRecorded(Guid.NewGuid(), "Purchased", T0.AddDays(day), new Dictionary<string, Value>()));

        Assert.Equal([T0.AddDays(1), T0.AddDays(3), T0.AddDays(5)], profile.State.EventsByType["Purchased"].Select(e => e.OccurredAt));
        Assert.Equal(new EventTypeSummary(3, T0.AddDays(1), T0.AddDays(5)), profile.EventTypes["Purchased"]);
    }

    [Fact]
    public void Entering_an_exclusive_segment_starts_the_group_cooldown_and_exiting_frees_the_slot()
    {
        var profile = new CustomerProfile();
        profile.Apply(new CustomerEnteredSegment("welcome", "contact", "email", "r-1", T0, ClaimsGroup: true));
        profile.Apply(new CustomerEnteredSegment("vip", "tiers", null, "r-1", T0, ClaimsGroup: false));

        Assert.Equal(T0, profile.State.LastGroupEntry["contact"]);
        Assert.False(profile.State.LastGroupEntry.ContainsKey("tiers"));
        Assert.Equal(new HeldSegment(T0, "contact", "email", "r-1"), profile.Segments["welcome"]);

        profile.Apply(new CustomerExitedSegment("welcome", "contact", "email", "r-1", T0.AddDays(1)));
        Assert.False(profile.State.Held.ContainsKey("welcome"));
        Assert.Equal(["vip"], profile.Segments.Keys);
    }

    private static CustomerEventRecorded Update(Guid id, DateTimeOffset at, string name, string value) =>
        new(id, WellKnownEventTypes.ProfileUpdated, at, new Dictionary<string, Value> { [name] = Value.FromString(value) });
}
