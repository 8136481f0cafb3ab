using System.Text.Json;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using static Segmentation.Rules.Tests.Support.Rules;

namespace Segmentation.Rules.Tests.Membership;

public class MembershipTests
{
    private static SegmentEngine Contact(string cooldown = "24h", string extra = "") => new(Load($$"""
        {{Attributes}}
        groups:
          contact: { exclusive: true, cooldown: {{cooldown}}, on_conflict: priority }
        segments:
          low:
            group: contact
            priority: 1
            when: count(Purchased) >= 1
          high:
            group: contact
            priority: 5
            when: sum(Purchased.amount) >= 100
          alpha:
            group: contact
            priority: 1
            when: count(Purchased where amount == 7) >= 1
        {{extra}}
        """));

    [Fact]
    public void Highest_priority_qualifying_segment_enters_and_others_are_blocked_by_it()
    {
        var engine = Contact();
        var result = engine.Replay("c", [Event("Purchased", T0, ("amount", 150))], T0);
        Assert.Equal(["high"], result.State.Held.Keys);
        var blocked = Assert.Single(result.Blocked);
        Assert.Equal(("low", "held by high"), (blocked.Segment, blocked.Reason));
    }

    [Fact]
    public void Equal_priorities_are_decided_by_segment_name()
    {
        var engine = Contact();
        var result = engine.Replay("c", [Event("Purchased", T0, ("amount", 7))], T0);
        Assert.Equal(["alpha"], result.State.Held.Keys);
        Assert.Equal("held by alpha", Assert.Single(result.Blocked).Reason);
    }

    [Fact]
    public void A_held_segment_is_not_pre_empted_by_a_higher_priority_one()
    {
        var engine = Contact();
        var result = engine.Replay("c", [Event("Purchased", T0, ("amount", 10)), Event("Purchased", T0.AddHours(1), ("amount", 90))], T0.AddHours(2));
        Assert.Equal(["low"], result.State.Held.Keys);
        Assert.Equal(("high", "held by low"), (result.Blocked[0].Segment, result.Blocked[0].Reason));
    }

    [Fact]
    public void Cooldown_blocks_a_new_entry_until_it_ends_exactly()
    {
        var engine = new SegmentEngine(Load($$"""
            {{Attributes}}
            groups:
              contact: { exclusive: true, cooldown: 24h }
            segments:
              short:
                group: contact
                when: count(Purchased, 1h) >= 1
              later:
                group: contact
                when: count(Purchased) >= 1 and not (count(Purchased, 1h) >= 1)
            """));
        var state = new CustomerState { CustomerId = "c" };
        var entered = engine.Apply(state, Event("Purchased", T0), T0);
        Assert.Equal(["short"], entered.Changes.Select(c => c.Segment));

        var afterWindow = engine.Evaluate(state, T0.AddHours(1));
        Assert.Equal([("short", MembershipChangeKind.Exited)], afterWindow.Changes.Select(c => (c.Segment, c.Kind)));
        var blocked = Assert.Single(afterWindow.Blocked);
        Assert.Equal("cooldown until 2025-01-02T00:00:00Z", blocked.Reason);
        Assert.Equal(T0.AddDays(1), afterWindow.NextCheckAt);

        Assert.Empty(engine.Evaluate(state, T0.AddDays(1).AddTicks(-1)).Changes);
        var atEnd = engine.Evaluate(state, T0.AddDays(1));
        Assert.Equal([("later", MembershipChangeKind.Entered, T0.AddDays(1))], atEnd.Changes.Select(c => (c.Segment, c.Kind, c.At)));
    }

    [Fact]
    public void Next_check_is_the_instant_an_event_leaves_its_window_or_a_day_count_crosses_its_threshold()
    {
        var engine = new SegmentEngine(Load($"""
            {Attributes}
            segments:
              recent:
                when: count(Purchased, 30d) >= 1
              old_customer:
                when: days_since(first(SignedUp)) >= 3
            """));
        var state = new CustomerState { CustomerId = "c" };
        var signedUp = engine.Apply(state, Event("SignedUp", T0.AddHours(6)), T0.AddHours(6));
        Assert.Equal(T0.AddDays(3).AddHours(6), signedUp.NextCheckAt);

        // Past its threshold the day count never changes the outcome again: no check every day from now on.
        var result = engine.Apply(signedUp.State, Event("Purchased", T0.AddDays(10)), T0.AddDays(10));
        Assert.Equal(["old_customer", "recent"], result.State.Held.Keys.Order());
        Assert.Equal(T0.AddDays(40), result.NextCheckAt);
        Assert.Equal(T0.AddDays(40), result.State.RecheckAt["recent"]);

        var expired = engine.Evaluate(result.State, T0.AddDays(40));
        Assert.Equal([("recent", MembershipChangeKind.Exited, T0.AddDays(40))], expired.Changes.Select(c => (c.Segment, c.Kind, c.At)));
        Assert.Null(expired.NextCheckAt);
    }

    [Theory]
    [InlineData("days_since(first(SignedUp)) == 3", 24, 3, 4)]
    [InlineData("3 < days_since(first(SignedUp))", 24, 4, null)]
    [InlineData("days_since(first(SignedUp)) <= 2.5", 24, 3, null)]
    [InlineData("hours_since(first(SignedUp)) != 30", 1, 30, 31)]
    public void A_day_count_compared_with_a_constant_is_checked_only_where_the_comparison_flips(
        string condition, int unitHours, int firstChange, int? secondChange)
    {
        var engine = new SegmentEngine(Load($"""
            {Attributes}
            segments:
              s:
                when: {condition}
            """));
        var signedUp = engine.Apply(new CustomerState { CustomerId = "c" }, Event("SignedUp", T0), T0);
        Assert.Equal(T0.AddHours(firstChange * unitHours), signedUp.NextCheckAt);
        var flipped = engine.Evaluate(signedUp.State, T0.AddHours(firstChange * unitHours));
        Assert.Equal(secondChange is { } second ? T0.AddHours(second * unitHours) : null, flipped.NextCheckAt);
    }

    [Fact]
    public void Evaluate_catches_up_on_every_due_instant_it_missed()
    {
        var engine = new SegmentEngine(Load($"""
            {Attributes}
            segments:
              recent:
                when: count(Purchased, 1d) >= 1
            """));
        var state = new CustomerState { CustomerId = "c" };
        engine.Apply(state, Event("Purchased", T0), T0);
        var late = engine.Evaluate(state, T0.AddDays(5));
        Assert.Equal([("recent", MembershipChangeKind.Exited, T0.AddDays(1))], late.Changes.Select(c => (c.Segment, c.Kind, c.At)));
        Assert.Null(late.NextCheckAt);
    }

    [Fact]
    public void An_event_dated_in_the_future_waits_until_the_clock_reaches_it()
    {
        var engine = new SegmentEngine(Single("count(Purchased) >= 1"));
        var state = new CustomerState { CustomerId = "c" };
        var early = engine.Apply(state, Event("Purchased", T0.AddHours(2)), T0);
        Assert.Empty(early.Changes);
        Assert.Equal(T0.AddHours(2), early.NextCheckAt);
        Assert.Equal(["s"], engine.Evaluate(state, T0.AddHours(2)).Changes.Select(c => c.Segment));
    }

    /// <summary>
    /// A repeat is recognised while the state keeps the earlier copy: inside the longest window the rules read, or always
    /// for a state that keeps everything. Beyond that the caller deduplicates (the service by an index of event ids).
    /// </summary>
    [Theory]
    [InlineData("count(Purchased, 30d) == 1", true)]
    [InlineData("count(Purchased) == 1", false)]
    public void A_repeated_event_the_state_keeps_changes_nothing(string condition, bool boundedState)
    {
        var engine = new SegmentEngine(Single(condition), boundedState: boundedState);
        var state = new CustomerState { CustomerId = "c" };
        var purchase = Event("Purchased", T0);
        engine.Apply(state, purchase, T0);
        var again = engine.Apply(state, purchase, T0.AddHours(1));
        Assert.Empty(again.Changes);
        Assert.True(state.Held.ContainsKey("s"));
    }

    [Fact]
    public void State_round_trips_through_system_text_json_and_evaluation_continues_identically()
    {
        var engine = Contact(extra: "  vip:\n    when: sum(Purchased.amount, 7d) >= 100 and plan == \"pro\"\n");
        var state = new CustomerState { CustomerId = "c" };
        engine.Apply(state, Event("ProfileUpdated", T0, ("plan", "pro")), T0);
        engine.Apply(state, Event("Purchased", T0.AddHours(1), ("amount", 150)), T0.AddHours(1));
        var copy = JsonSerializer.Deserialize<CustomerState>(JsonSerializer.Serialize(state))!;

        var original = engine.Evaluate(state, T0.AddDays(9));
        var restored = engine.Evaluate(copy, T0.AddDays(9));
        Assert.Equal(original.Changes, restored.Changes);
        Assert.Equal(state.Held, copy.Held);
        Assert.Contains(original.Changes, c => c.Segment == "vip" && c.Kind == MembershipChangeKind.Exited);
    }

    [Fact]
    public void Caches_replaced_in_place_by_someone_else_are_re_indexed_by_the_engine()
    {
        // As the service's projection does: the persisted caches of a later evaluation copied into an existing instance.
        var engine = Contact(extra: "  recent:\n    when: count(Purchased, 2d) >= 1\n");
        var stale = new CustomerState { CustomerId = "c" };
        engine.Apply(stale, Event("SignedUp", T0), T0);
        var later = stale.Clone();
        engine.Apply(later, Event("Purchased", T0.AddHours(1), ("amount", 150)), T0.AddHours(1));
        foreach (var e in later.EventsByType.Values.SelectMany(events => events))
        {
            stale.Record(e);
        }

        stale.Held.Clear();
        foreach (var (name, since) in later.Held) stale.Held[name] = since;
        foreach (var (group, at) in later.LastGroupEntry) stale.LastGroupEntry[group] = at;
        stale.Qualifying.Clear();
        stale.Qualifying.UnionWith(later.Qualifying);
        stale.RecheckAt.Clear();
        foreach (var (name, due) in later.RecheckAt) stale.RecheckAt[name] = due;
        stale.EvaluatedAt = later.EvaluatedAt;
        stale.NextCheckAt = later.NextCheckAt;

        var expected = engine.Evaluate(later, T0.AddDays(3));
        var actual = engine.Evaluate(stale, T0.AddDays(3));
        Assert.Equal(expected.Changes, actual.Changes);
        Assert.Contains(actual.Changes, c => c.Segment == "recent" && c.Kind == MembershipChangeKind.Exited);
        Assert.Equal(expected.Blocked, actual.Blocked);
        Assert.Equal(expected.NextCheckAt, actual.NextCheckAt);
    }

    [Fact]
    public void A_new_ruleset_re_evaluates_everything_and_leaves_removed_segments()
    {
        var state = new CustomerState { CustomerId = "c" };
        new SegmentEngine(Single("count(Purchased) >= 1")).Apply(state, Event("Purchased", T0), T0);
        var other = new SegmentEngine(Load($"{Attributes}\nsegments:\n  t:\n    when: count(Purchased) >= 1\n"));
        var result = other.Evaluate(state, T0.AddHours(1));
        Assert.Equal([("s", MembershipChangeKind.Exited), ("t", MembershipChangeKind.Entered)], result.Changes.Select(c => (c.Segment, c.Kind)));
    }

    [Fact]
    public void Explain_shows_every_sub_expression_value_and_the_outcome()
    {
        var engine = Contact();
        var result = engine.Replay("c", [Event("Purchased", T0, ("amount", 10)), Event("Purchased", T0.AddHours(1), ("amount", 90))], T0.AddHours(2));
        var explanation = engine.Explain(result.State, "high", T0.AddHours(2));
        Assert.Equal("blocked: held by low", explanation.Outcome);
        Assert.True(explanation.ConditionHolds);
        Assert.Equal("sum(Purchased.amount) >= 100", explanation.Condition.Expression);
        Assert.Equal(("sum(Purchased.amount)", "100"), (explanation.Condition.Parts[0].Expression, explanation.Condition.Parts[0].Value));
        Assert.Contains("high [contact]: blocked: held by low", explanation.Render(), StringComparison.Ordinal);
    }
}
