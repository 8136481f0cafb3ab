using Marten;
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
