using System.Diagnostics.Metrics;

namespace Segmentation.Service;

/// <summary>The service's own instruments, on the meter <see cref="MeterName"/>.</summary>
public sealed class SegmentationMetrics
{
    public const string MeterName = "Segmentation.Service";

    private readonly Counter<long> _eventsConsumed;
    private readonly Counter<long> _conflictingEventIds;
    private readonly Counter<long> _entered;
    private readonly Counter<long> _exited;
    private readonly Counter<long> _concurrencyRetries;
    private readonly Counter<long> _reevaluated;
    private readonly Counter<long> _refolded;
    private readonly Counter<long> _refoldedEvents;
    private readonly Counter<long> _blocked;
    private readonly Histogram<double> _evaluationSeconds;
    private readonly Histogram<double> _relayLagSeconds;
    private readonly Histogram<double> _endToEndLagSeconds;
    private readonly Histogram<double> _sweeperLagSeconds;
    private readonly Histogram<long> _batchEvents;
    private readonly Histogram<double> _commitSeconds;

    public SegmentationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _eventsConsumed = meter.CreateCounter<long>("segmentation.events.consumed", "{event}", "Customer events stored, by type");
        _conflictingEventIds = meter.CreateCounter<long>("segmentation.events.conflicting_id", "{event}",
            "Events refused because their id was already recorded for another customer or with other content, by reason (customer, content)");
        _entered = meter.CreateCounter<long>("segmentation.segments.entered", "{entry}", "SegmentEntered published, by segment");
        _exited = meter.CreateCounter<long>("segmentation.segments.exited", "{exit}", "SegmentExited published, by segment");
        _concurrencyRetries = meter.CreateCounter<long>("segmentation.concurrency.retries", "{retry}",
            "Decisions retried because another writer committed to the customer's stream first");
        _reevaluated = meter.CreateCounter<long>("segmentation.reevaluation.customers", "{customer}",
            "Customers re-evaluated after a ruleset activation");
        _refolded = meter.CreateCounter<long>("segmentation.profiles.refolded", "{customer}",
            "Profiles refolded from their stream because the active ruleset reads more than they kept");
        _refoldedEvents = meter.CreateCounter<long>("segmentation.profiles.refolded_events", "{event}", "Events read from streams to refold profiles");
        _blocked = meter.CreateCounter<long>("segmentation.segments.blocked", "{decision}",
            "Decisions that left a qualifying segment blocked, by segment and reason (held, cooldown)");
        _evaluationSeconds = meter.CreateHistogram<double>("segmentation.evaluation.duration", "s", "Engine time per decision");
        _relayLagSeconds = meter.CreateHistogram<double>("segmentation.relay.lag", "s", "Commit of a membership event to its publish");
        _endToEndLagSeconds = meter.CreateHistogram<double>("segmentation.end_to_end.lag", "s",
            "Occurrence of the upstream event (or the due time) to the publish of the SegmentEntered it caused");
        _sweeperLagSeconds = meter.CreateHistogram<double>("segmentation.sweeper.lag", "s", "Due time of a time-triggered evaluation to its run");
        _batchEvents = meter.CreateHistogram<long>("segmentation.ingestion.batch_size", "{event}", "Events decided and committed in one ingestion transaction");
        _commitSeconds = meter.CreateHistogram<double>("segmentation.ingestion.commit.duration", "s",
            "Time to decide and commit one ingestion batch (read, decide, append, store)");
    }

    public void ProfileRefolded(int events)
    {
        _refolded.Add(1);
        _refoldedEvents.Add(events);
    }

    public void EventConsumed(string type) => _eventsConsumed.Add(1, new KeyValuePair<string, object?>("event.type", type));

    public void ConflictingEventId(string reason) => _conflictingEventIds.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void SegmentEntered(string segment) => _entered.Add(1, new KeyValuePair<string, object?>("segment", segment));

    public void SegmentExited(string segment) => _exited.Add(1, new KeyValuePair<string, object?>("segment", segment));

    public void Blocked(string segment, string reason) => _blocked.Add(1,
        new KeyValuePair<string, object?>("segment", segment), new KeyValuePair<string, object?>("reason", reason));

    public void ConcurrencyRetry() => _concurrencyRetries.Add(1);

    public void CustomerReevaluated(string rulesetVersion) =>
        _reevaluated.Add(1, new KeyValuePair<string, object?>("ruleset.version", rulesetVersion));

    public void IngestionBatch(int events) => _batchEvents.Record(events);

    public void IngestionCommit(TimeSpan elapsed) => _commitSeconds.Record(elapsed.TotalSeconds);

    public void Evaluation(TimeSpan elapsed) => _evaluationSeconds.Record(elapsed.TotalSeconds);

    public void RelayLag(TimeSpan lag) => RecordLag(_relayLagSeconds, lag);

    public void EndToEndLag(TimeSpan lag) => RecordLag(_endToEndLagSeconds, lag);

    public void SweeperLag(TimeSpan lag) => RecordLag(_sweeperLagSeconds, lag);

    private static void RecordLag(Histogram<double> histogram, TimeSpan lag)
    {
        if (lag >= TimeSpan.Zero) histogram.Record(lag.TotalSeconds);
    }
}
