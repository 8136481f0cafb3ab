using Marten;
using Segmentation.Service.Membership;

namespace Segmentation.Service.Tests.Membership;

/// <summary>Checks over the whole stored event log, customer by customer, in stream order.</summary>
public static class EventLogInvariants
{
    public sealed record Report(int Customers, int Entries, IReadOnlyList<Guid> EnteredEventIds, IReadOnlyList<string> Violations);

    public static async Task<Report> Check(IDocumentStore store, TimeSpan groupCooldown, IEnumerable<string> customers)
    {
        var violations = new List<string>();
        var enteredIds = new List<Guid>();
        var customerCount = 0;
        await using var session = store.QuerySession();
        foreach (var customer in customers)
        {
            customerCount++;
            var holders = new Dictionary<string, string>(StringComparer.Ordinal);
            var lastEntry = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            foreach (var stored in await session.Events.FetchStreamAsync(customer))
            {
                switch (stored.Data)
                {
                    case CustomerEnteredSegment { ClaimsGroup: true, Group: { } group } entered:
                        enteredIds.Add(stored.Id);
                        if (holders.TryGetValue(group, out var holder))
                            violations.Add($"{customer} entered {entered.Segment} at {entered.At:O} while holding {holder} in {group}");
                        if (lastEntry.TryGetValue(group, out var last) && entered.At - last < groupCooldown)
                            violations.Add($"{customer} entered {entered.Segment} at {entered.At:O}, {entered.At - last} after the last entry into {group}");
                        holders[group] = entered.Segment;
                        lastEntry[group] = entered.At;
                        break;
                    case CustomerEnteredSegment:
                        enteredIds.Add(stored.Id);
                        break;
                    case CustomerExitedSegment { Group: { } group } exited when holders.GetValueOrDefault(group) == exited.Segment:
                        holders.Remove(group);
                        break;
                }
            }
        }
        return new Report(customerCount, enteredIds.Count, enteredIds, violations);
    }
}
