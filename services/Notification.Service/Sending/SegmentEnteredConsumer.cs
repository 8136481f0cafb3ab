using MassTransit;
using SegmentationEvents.Contracts;

namespace Notification.Service.Sending;

/// <summary>
/// "Sends" one message per <see cref="SegmentEntered"/> that names a channel: records it in the
/// <c>sends</c> table and logs it, at most once per message id, never inside the group's cooldown.
/// </summary>
public sealed class SegmentEnteredConsumer(SendLedger ledger, NotificationMetrics metrics, ILogger<SegmentEnteredConsumer> logger)
    : IConsumer<SegmentEntered>
{
    public async Task Consume(ConsumeContext<SegmentEntered> context)
    {
        var entry = context.Message;
        if (entry.Channel is null)
        {
            metrics.SkippedWithoutChannel();
            logger.LogDebug("No send for {CustomerId} entering {Segment}: the segment has no channel", entry.CustomerId, entry.Segment);
            return;
        }

        // The segmentation service publishes with MessageId = the stored event id: the deduplication key.
        var messageId = context.MessageId
            ?? throw new InvalidOperationException($"SegmentEntered for {entry.CustomerId}/{entry.Segment} has no MessageId to deduplicate by.");

        using var activity = NotificationMetrics.ActivitySource.StartActivity("notification send");
        activity?.SetTag("notification.message_id", messageId);
        activity?.SetTag("notification.customer_id", entry.CustomerId);
        activity?.SetTag("notification.segment", entry.Segment);
        activity?.SetTag("notification.channel", entry.Channel);

        var outcome = await ledger.Record(messageId, entry, context.CancellationToken);
        activity?.SetTag("notification.outcome", outcome.ToString());
        switch (outcome)
        {
            case SendOutcome.Sent:
                metrics.Sent(entry.Segment, entry.Channel);
                logger.LogInformation("Sent {Channel} message for segment {Segment} (ruleset {RulesetVersion}) to {CustomerId}, message {MessageId}",
                    entry.Channel, entry.Segment, entry.RulesetVersion, entry.CustomerId, messageId);
                break;
            case SendOutcome.RefusedByCooldown:
                metrics.RefusedByCooldown(entry.Group);
                logger.LogWarning("Refused {Channel} message for segment {Segment} to {CustomerId}: group {Group} is in its cooldown, message {MessageId}",
                    entry.Channel, entry.Segment, entry.CustomerId, entry.Group, messageId);
                break;
            case SendOutcome.Duplicate:
                metrics.Duplicate(entry.Segment);
                logger.LogInformation("Message {MessageId} for {CustomerId}/{Segment} was already handled; nothing sent",
                    messageId, entry.CustomerId, entry.Segment);
                break;
        }
    }
}
