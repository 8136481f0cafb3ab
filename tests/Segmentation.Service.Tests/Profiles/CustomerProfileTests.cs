using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Tests.Profiles;

/// <summary><see cref="CustomerProfile.Evolve"/>: the one place a profile changes, from a decision's state and facts.</summary>
public sealed class CustomerProfileTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Type_summaries_count_every_recorded_event_and_track_first_and_last_in_any_arrival_order()
    {
        var profile = new CustomerProfile { Id = "c" };
        var version = 0L;
        foreach (var day in new[] { 5, 1, 3 })
        {
            profile.Evolve(new CustomerState(), [Purchase(T0.AddDays(day))], ++version, decidedBy: null);
        }

        Assert.Equal(new EventTypeSummary(3, T0.AddDays(1), T0.AddDays(5)), profile.EventTypes["Purchased"]);
        Assert.Equal(3, profile.Version);
    }

    [Fact]
    public void Entries_and_exits_keep_the_held_segments_and_a_decision_record_sets_what_the_profile_shows()
    {
        var profile = new CustomerProfile { Id = "c" };
        var blocked = new BlockedSegment("vip", "contact", "held by welcome", "welcome", null);
        var decided = new CustomerState { CustomerId = "c" };
        profile.Evolve(decided, [
            Purchase(T0),
            new CustomerEnteredSegment("welcome", "contact", "email", "r-1", T0, ClaimsGroup: true),
            new CustomerEnteredSegment("tier", null, null, "r-1", T0, ClaimsGroup: false),
            new CustomerEvaluated(T0, "r-1", [blocked], T0.AddDays(3)),
        ], version: 4, decidedBy: "00-trace-span-01");

        Assert.Same(decided, profile.State);
        Assert.Equal(new HeldSegment(T0, "contact", "email", "r-1"), profile.Segments["welcome"]);
        Assert.Equal([blocked], profile.Blocked);
        Assert.Equal((T0.AddDays(3), "r-1", "00-trace-span-01"), (profile.NextCheckAt, profile.RulesetVersion, profile.NextCheckSetBy));
        Assert.True(profile.Shows([blocked], T0.AddDays(3), "r-1"));
        Assert.False(profile.Shows([], T0.AddDays(3), "r-1"));
        Assert.False(profile.Shows([blocked], T0.AddDays(4), "r-1"));
        Assert.False(profile.Shows([blocked], T0.AddDays(3), "r-2"));

        profile.Evolve(decided, [new CustomerExitedSegment("welcome", "contact", "email", "r-1", T0.AddDays(1))], version: 5, decidedBy: "00-other-01");
        Assert.Equal(["tier"], profile.Segments.Keys);
        // The next check did not change, so it is still the first decision's trace that set it.
        Assert.Equal("00-trace-span-01", profile.NextCheckSetBy);
    }

    [Fact]
    public void A_redelivered_event_is_recognised_in_the_history_the_state_keeps()
    {
        var purchase = Purchase(T0);
        var state = new CustomerState { CustomerId = "c" };
        state.Record(purchase.ToRuleEvent());
        var profile = new CustomerProfile { Id = "c", State = state };

        Assert.True(profile.Holds(purchase));
        Assert.False(profile.Holds(purchase with { EventId = Guid.NewGuid() }));
        Assert.False(profile.Holds(purchase with { OccurredAt = T0.AddTicks(1) }));
    }

    private static CustomerEventRecorded Purchase(DateTimeOffset at) =>
        new(Guid.NewGuid(), WellKnownEventTypes.Purchased, at, new Dictionary<string, Value> { ["amount"] = Value.FromNumber(10) });
}
