using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using Segmentation.Service.Membership;

namespace Segmentation.Service.OperatorConsole;

/// <summary>One segment's entries and exits on one UTC day (by the instant the decision took effect). Id: <c>segment/yyyy-MM-dd</c>.</summary>
public sealed class SegmentDay
{
    public string Id { get; set; } = "";
    public string Segment { get; set; } = "";
    public DateOnly Day { get; set; }
    public int Entries { get; set; }
    public int Exits { get; set; }

    public static string IdOf(string segment, DateOnly day) => $"{segment}/{day:yyyy-MM-dd}";
}

/// <summary>One segment's entries and exits over the whole log; entries minus exits is its holders now. Id: the segment.</summary>
public sealed class SegmentTotal
{
    public string Id { get; set; } = "";
    public int Entries { get; set; }
    public int Exits { get; set; }
    public int Holders => Entries - Exits;
}

/// <summary>
/// Keeps <see cref="SegmentDay"/> and <see cref="SegmentTotal"/> equal to the membership events of the log. An async-daemon
/// subscription, like the relay: the documents it changes are committed in the same transaction as its progress, so each
/// event is counted exactly once, and a new schema (or a dropped tally) is counted from the first event.
/// </summary>
public sealed class SegmentDailyTally : SubscriptionBase
{
    public const string SubscriptionName = "segment-daily-tally";

    public SegmentDailyTally()
    {
        Name = SubscriptionName;
        IncludeType<CustomerEnteredSegment>();
        IncludeType<CustomerExitedSegment>();
        Options.BatchSize = 1000;
    }

    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        var changes = page.Events.Select(e => e.Data switch
            {
                CustomerEnteredSegment entered => (entered.Segment, Day: DateOnly.FromDateTime(entered.At.UtcDateTime), Entries: 1, Exits: 0),
                CustomerExitedSegment exited => (exited.Segment, Day: DateOnly.FromDateTime(exited.At.UtcDateTime), Entries: 0, Exits: 1),
                _ => default,
            })
            .Where(c => c.Segment is not null)
            .ToList();
        if (changes.Count == 0) return NullChangeListener.Instance;

        var dayIds = changes.Select(c => SegmentDay.IdOf(c.Segment, c.Day)).Distinct().ToArray();
        var days = (await operations.LoadManyAsync<SegmentDay>(cancellationToken, dayIds)).ToDictionary(d => d.Id, StringComparer.Ordinal);
        var totals = (await operations.LoadManyAsync<SegmentTotal>(cancellationToken, changes.Select(c => c.Segment).Distinct().ToArray()))
            .ToDictionary(t => t.Id, StringComparer.Ordinal);
        foreach (var (segment, day, entries, exits) in changes)
        {
            var id = SegmentDay.IdOf(segment, day);
            if (!days.TryGetValue(id, out var tally)) days[id] = tally = new SegmentDay { Id = id, Segment = segment, Day = day };
            tally.Entries += entries;
            tally.Exits += exits;
            if (!totals.TryGetValue(segment, out var total)) totals[segment] = total = new SegmentTotal { Id = segment };
            total.Entries += entries;
            total.Exits += exits;
        }

        operations.Store(days.Values.ToArray());
        operations.Store(totals.Values.ToArray());
        return NullChangeListener.Instance;
    }
}
