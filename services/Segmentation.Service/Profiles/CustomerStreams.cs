using System.Runtime.CompilerServices;
using Marten;
using Marten.Events;
using Segmentation.Rules.Simulation;
using Segmentation.Rules.Evaluation;
using Segmentation.Rules.Membership;
using Segmentation.Service.Ingestion;

namespace Segmentation.Service.Profiles;

/// <summary>A customer's whole history, read from their stream (the truth the bounded profile is derived from).</summary>
public static class CustomerStreams
{
    /// <summary>Every customer event recorded in the customer's stream, as the rule engine reads them.</summary>
    public static async Task<IReadOnlyList<CustomerEvent>> Of(IQuerySession session, string customerId, CancellationToken cancellationToken) =>
        [.. (await session.Events.FetchStreamAsync(customerId, token: cancellationToken))
            .Select(e => e.Data).OfType<CustomerEventRecorded>().Select(e => e.ToRuleEvent())];

    /// <summary>
    /// Every customer's recorded events, one customer at a time: the query streams them ordered by customer, so only
    /// one customer's events are held at once.
    /// </summary>
    public static async IAsyncEnumerable<CustomerHistory> All(IQuerySession session, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var recorded = session.Events.QueryAllRawEvents()
            .Where(e => e.EventTypesAre(typeof(CustomerEventRecorded)))
            .OrderBy(e => e.StreamKey).ThenBy(e => e.Version);
        string? customerId = null;
        var events = new List<CustomerEvent>();
        await foreach (var stored in QueryableExtensions.ToAsyncEnumerable(recorded, cancellationToken))
        {
            if (customerId is not null && stored.StreamKey != customerId)
            {
                yield return new CustomerHistory(customerId, events);
                events = [];
            }

            customerId = stored.StreamKey;
            events.Add(((CustomerEventRecorded)stored.Data).ToRuleEvent());
        }

        if (customerId is not null) yield return new CustomerHistory(customerId, events);
    }

    /// <summary>
    /// A copy of the profile's state that keeps what <paramref name="engine"/> reads: as stored, or refolded from the
    /// customer's stream when the engine's ruleset reads more than the profile keeps. RefoldedFrom: the events read, when it was refolded.
    /// </summary>
    public static async Task<(CustomerState State, int? RefoldedFrom)> CoveredState(
        IQuerySession session, CustomerProfile profile, SegmentEngine engine, CancellationToken cancellationToken)
    {
        if (engine.Covers(profile.State)) return (profile.State.Clone(), null);

        var history = await Of(session, profile.Id, cancellationToken);
        return (engine.Rebuild(profile.State, history), history.Count);
    }
}
