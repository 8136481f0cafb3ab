using System.Diagnostics;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using Marten;
using Marten.Subscriptions;
using MassTransit;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Membership;

/// <summary>
/// The outbox: publishes committed membership events from the Marten event log to RabbitMQ. The async daemon hands
/// over pages in sequence order and records progress only after a page is processed, so nothing uncommitted is
/// published and nothing committed is skipped. A crash between publish and progress republishes the same events with
/// the same MessageId (the stored event's id), which downstream consumers deduplicate.
/// </summary>
public sealed class SegmentEventRelay : SubscriptionBase
{
    /// <summary>
    /// Commit timestamps come from PostgreSQL's clock, so relay lag is measured against the wall clock, not against the
    /// service's domain clock (which tests replace with a fake one).
    /// </summary>
    private static readonly TimeProvider WallClock = TimeProvider.System;

    public const string SubscriptionName = "segment-event-relay";

    private readonly IBus _bus;
    private readonly SegmentationMetrics _metrics;
    private readonly TransientRetryOptions _retry;

    public SegmentEventRelay(IBus bus, SegmentationMetrics metrics, TransientRetryOptions retry)
    {
        _bus = bus;
        _metrics = metrics;
        _retry = retry;
        Name = SubscriptionName;
        IncludeType<CustomerEnteredSegment>();
        IncludeType<CustomerExitedSegment>();
        Options.BatchSize = 500;
    }

    public override async Task<IChangeListener> ProcessEventsAsync(
        EventRange page, ISubscriptionController controller, IDocumentOperations operations, CancellationToken cancellationToken)
    {
        // One customer's entries and exits go out in log order (each publish confirmed before the next); customers in parallel.
        await Task.WhenAll(page.Events.GroupBy(e => e.StreamKey).Select(async customer =>
        {
            foreach (var stored in customer)
            {
                await Publish(stored, cancellationToken);
            }
        }));
        return NullChangeListener.Instance;
    }

    private async Task Publish(IEvent stored, CancellationToken cancellationToken)
    {
        var customerId = stored.StreamKey!;
        // Continues the trace of the decision that appended the event; MassTransit's publish span is its child.
        using var activity = SegmentationTelemetry.Source.StartActivity(
            "segmentation.relay", ActivityKind.Internal, SegmentationTelemetry.ParentFrom(stored.Headers));
        activity?.SetTag("customer.id", customerId);
        activity?.SetTag("event.sequence", stored.Sequence);
        switch (stored.Data)
        {
            case CustomerEnteredSegment entered:
                activity?.SetTag("segment", entered.Segment);
                activity?.SetTag("outcome", "entered");
                await UntilPublished(() => _bus.Publish(
                    new SegmentEntered(customerId, entered.Segment, entered.Group, entered.Channel, entered.RulesetVersion, entered.At),
                    context => context.MessageId = stored.Id, cancellationToken), cancellationToken);
                _metrics.SegmentEntered(entered.Segment);
                _metrics.EndToEndLag(WallClock.GetUtcNow() - (entered.CauseOccurredAt ?? entered.At));
                break;
            case CustomerExitedSegment exited:
                activity?.SetTag("segment", exited.Segment);
                activity?.SetTag("outcome", "exited");
                await UntilPublished(() => _bus.Publish(
                    new SegmentExited(customerId, exited.Segment, exited.Group, exited.Channel, exited.RulesetVersion, exited.At),
                    context => context.MessageId = stored.Id, cancellationToken), cancellationToken);
                _metrics.SegmentExited(exited.Segment);
                break;
            default:
                return;
        }

        _metrics.RelayLag(WallClock.GetUtcNow() - stored.Timestamp);
    }

    /// <summary>
    /// Waits out a broker outage at the intervals consumers wait out a transient failure (<see cref="TransientRetryOptions"/>),
    /// so the daemon never sees the page fail: after its own few retries it would pause the relay, and the entries after the
    /// outage would never be published. Past <see cref="TransientRetryOptions.GiveUpAfter"/> the failure goes to the daemon.
    /// </summary>
    private async Task UntilPublished(Func<Task> publish, CancellationToken cancellationToken)
    {
        foreach (var wait in _retry.Intervals())
        {
            try
            {
                await publish();
                return;
            }
            catch (Exception e) when (TransientFaults.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(wait, WallClock, cancellationToken);
            }
        }

        await publish();
    }
}
