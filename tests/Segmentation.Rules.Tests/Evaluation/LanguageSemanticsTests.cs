using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Tests.Support;
using static Segmentation.Rules.Tests.Support.Rules;

namespace Segmentation.Rules.Tests.Evaluation;

public class LanguageSemanticsTests
{
    /// <summary>Evaluates the condition with the engine at <paramref name="now"/>, and checks the oracle agrees.</summary>
    private static bool Holds(string condition, DateTimeOffset now, params CustomerEvent[] events)
    {
        var ruleset = Single(condition);
        var engineSays = new SegmentEngine(ruleset).Replay("c", events, now).State.Held.ContainsKey("s");
        Assert.Equal(NaiveInterpreter.Holds(ruleset.Segments[0], ruleset, events, now), engineSays);
        return engineSays;
    }

    [Fact]
    public void Window_excludes_an_event_exactly_at_now_minus_window_and_includes_one_at_now()
    {
        var purchase = Event("Purchased", T0);
        Assert.True(Holds("count(Purchased, 30d) == 1", T0, purchase));
        Assert.True(Holds("count(Purchased, 30d) == 1", T0.AddDays(30).AddTicks(-1), purchase));
        Assert.False(Holds("count(Purchased, 30d) == 1", T0.AddDays(30), purchase));
    }

    [Fact]
    public void Count_without_window_counts_all_history_up_to_now()
    {
        Assert.True(Holds("count(Purchased) == 2", T0.AddYears(3), Event("Purchased", T0), Event("Purchased", T0.AddYears(1))));
    }

    [Fact]
    public void Count_with_where_filters_on_event_properties()
    {
        var events = new[] { Event("Purchased", T0, ("amount", 150)), Event("Purchased", T0, ("amount", 50)), Event("Purchased", T0) };
        Assert.True(Holds("count(Purchased where amount > 100, 30d) == 1", T0.AddHours(1), events));
        Assert.True(Holds("count(Purchased where amount is null) == 1", T0.AddHours(1), events));
    }

    [Fact]
    public void Aggregates_skip_events_without_the_property()
    {
        var events = new[] { Event("Purchased", T0, ("amount", 10)), Event("Purchased", T0, ("amount", 30)), Event("Purchased", T0, ("sku", "x")) };
        var now = T0.AddHours(1);
        Assert.True(Holds("sum(Purchased.amount) == 40", now, events));
        Assert.True(Holds("avg(Purchased.amount) == 20", now, events));
        Assert.True(Holds("min(Purchased.amount) == 10 and max(Purchased.amount) == 30", now, events));
    }

    [Fact]
    public void Empty_aggregates_are_zero_for_count_and_sum_and_null_for_min_max_avg()
    {
        var now = T0;
        Assert.True(Holds("count(Purchased) == 0 and sum(Purchased.amount, 7d) == 0", now));
        Assert.True(Holds("min(Purchased.amount) is null and max(Purchased.amount) is null and avg(Purchased.amount) is null", now));
        Assert.True(Holds("first(Purchased) is null and last(Purchased) is null", now));
    }

    [Fact]
    public void Days_since_counts_whole_days_and_changes_exactly_at_the_boundary()
    {
        var signup = Event("SignedUp", T0.AddHours(9));
        Assert.False(Holds("days_since(first(SignedUp)) >= 3", T0.AddDays(3).AddHours(9).AddTicks(-1), signup));
        Assert.True(Holds("days_since(first(SignedUp)) >= 3", T0.AddDays(3).AddHours(9), signup));
        Assert.True(Holds("hours_since(first(SignedUp)) == 5", T0.AddHours(14).AddMinutes(59), signup));
    }

    [Fact]
    public void Since_of_null_is_null_and_comparisons_with_null_are_false()
    {
        Assert.False(Holds("days_since(last(Purchased)) > 60", T0));
        Assert.False(Holds("days_since(last(Purchased)) <= 60", T0));
        Assert.False(Holds("days_since(last(Purchased)) != 1", T0));
        Assert.True(Holds("days_since(last(Purchased)) is null", T0));
        Assert.False(Holds("score in [1, 2]", T0));
        Assert.False(Holds("score not in [1, 2]", T0));
    }

    [Fact]
    public void Attributes_take_the_latest_value_by_occurrence_time_not_arrival()
    {
        var later = Event("ProfileUpdated", T0.AddDays(2), ("plan", "team"));
        var earlier = Event("ProfileUpdated", T0.AddDays(1), ("plan", "free"), ("country", "NL"));
        Assert.True(Holds("plan == \"team\" and country == \"NL\"", T0.AddDays(3), later, earlier));
    }

    [Fact]
    public void Attribute_tie_at_equal_time_goes_to_the_larger_event_id()
    {
        var ruleset = Single("plan == \"pro\"");
        var engine = new SegmentEngine(ruleset);
        var state = new CustomerState { CustomerId = "c" };
        engine.Apply(state, new CustomerEvent { EventId = "b", Type = "ProfileUpdated", OccurredAt = T0, Properties = new Dictionary<string, Value> { ["plan"] = Value.FromString("pro") } }, T0);
        engine.Apply(state, new CustomerEvent { EventId = "a", Type = "ProfileUpdated", OccurredAt = T0, Properties = new Dictionary<string, Value> { ["plan"] = Value.FromString("free") } }, T0);
        Assert.True(state.Held.ContainsKey("s"));
    }

    [Fact]
    public void Arithmetic_on_numbers_and_timestamps_with_durations()
    {
        var events = new[] { Event("Purchased", T0, ("amount", 10)), Event("Purchased", T0.AddDays(1), ("amount", 20)) };
        var now = T0.AddDays(2);
        Assert.True(Holds("sum(Purchased.amount) * 2 - 10 / 2 == 55", now, events));
        Assert.True(Holds("first(Purchased) + 1d == last(Purchased)", now, events));
        Assert.True(Holds("now - 2d == first(Purchased)", now, events));
        Assert.True(Holds("-score is null and (1 + 2) * 3 == 9", now, events));
        Assert.True(Holds("sum(Purchased.amount) / 0 is null", now, events));
    }

    [Fact]
    public void Comparisons_against_now_flip_at_the_right_instant()
    {
        Assert.False(Holds("now >= 2025-03-01T00:00:00Z", new DateTimeOffset(2025, 2, 28, 23, 59, 59, TimeSpan.Zero)));
        Assert.True(Holds("now >= 2025-03-01T00:00:00Z", new DateTimeOffset(2025, 3, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.True(Holds("birthday is null and now > 2024-12-31", T0));
    }

    [Fact]
    public void Timestamp_attributes_are_parsed_from_iso_strings()
    {
        var profile = Event("ProfileUpdated", T0, ("birthday", "1990-05-01T00:00:00Z"));
        Assert.True(Holds("birthday < 2000-01-01 and days_since(birthday) > 365", T0.AddHours(1), profile));
    }

    [Fact]
    public void Boolean_operators_treat_null_as_false()
    {
        Assert.False(Holds("email_opt_in", T0));
        Assert.True(Holds("not email_opt_in", T0));
        Assert.True(Holds("email_opt_in or country is null", T0));
        Assert.True(Holds("email_opt_in", T0.AddHours(1), Event("ProfileUpdated", T0, ("email_opt_in", true))));
    }

    [Fact]
    public void In_and_not_in_lists_and_enum_values()
    {
        var profile = Event("ProfileUpdated", T0, ("plan", "pro"), ("score", 3));
        Assert.True(Holds("plan in [\"pro\", \"team\"] and score not in [1, 2]", T0.AddHours(1), profile));
        Assert.False(Holds("plan not in [\"pro\"]", T0.AddHours(1), profile));
    }

    [Fact]
    public void A_property_of_the_wrong_json_type_reads_as_null()
    {
        var profile = Event("ProfileUpdated", T0, ("score", "high"));
        Assert.True(Holds("score is null", T0.AddHours(1), profile));
    }
}
