using System.Text.Json;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Tests.Profiles;

public sealed class CustomerProfileTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_latest_attribute_value_by_occurrence_time_wins_even_when_it_arrives_first()
    {
        var profile = new CustomerProfile();
        profile.Record(Update(Guid.NewGuid(), T0.AddDays(2), "plan", "team"));
        profile.Record(Update(Guid.NewGuid(), T0.AddDays(1), "plan", "free"));

        Assert.Equal("team", profile.Attributes["plan"].Value.GetString());
        Assert.Equal(T0.AddDays(2), profile.Attributes["plan"].SetAt);
    }

    [Fact]
    public void Updates_at_the_same_instant_are_decided_by_event_id_so_arrival_order_does_not_matter()
    {
        var low = Guid.Parse("00000000-0000-0000-0000-000000000001");
        var high = Guid.Parse("00000000-0000-0000-0000-000000000002");
        var a = new CustomerProfile();
        a.Record(Update(low, T0, "plan", "free"));
        a.Record(Update(high, T0, "plan", "pro"));
        var b = new CustomerProfile();
        b.Record(Update(high, T0, "plan", "pro"));
        b.Record(Update(low, T0, "plan", "free"));

        Assert.Equal("pro", a.Attributes["plan"].Value.GetString());
        Assert.Equal("pro", b.Attributes["plan"].Value.GetString());
    }

    [Fact]
    public void History_stays_in_occurrence_order_and_type_summaries_track_first_and_last()
    {
        var profile = new CustomerProfile();
        foreach (var day in new[] { 5, 1, 3 })
            profile.Record(new CustomerEventRecorded(Guid.NewGuid(), "Purchased", T0.AddDays(day), new Dictionary<string, JsonElement>()));

        Assert.Equal([T0.AddDays(1), T0.AddDays(3), T0.AddDays(5)], profile.History.Select(e => e.OccurredAt));
        Assert.Equal(new EventTypeSummary(3, T0.AddDays(1), T0.AddDays(5)), profile.EventTypes["Purchased"]);
    }

    private static CustomerEventRecorded Update(Guid id, DateTimeOffset at, string name, string value) =>
        new(id, WellKnownEventTypes.ProfileUpdated, at, new Dictionary<string, JsonElement> { [name] = JsonSerializer.SerializeToElement(value) });
}
