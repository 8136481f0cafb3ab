using MassTransit;

namespace SegmentationEvents.Contracts;

/// <summary>Published once per committed entry; the message id is the stored event's id.</summary>
[MessageUrn("segmentation-events:segment-entered")]
[EntityName("segmentation-events:segment-entered")]
public sealed record SegmentEntered(
    string CustomerId,
    string Segment,
    string? Group,
    string? Channel,
    string RulesetVersion,
    DateTimeOffset EnteredAt);

/// <summary>Published once per committed exit; the message id is the stored event's id.</summary>
[MessageUrn("segmentation-events:segment-exited")]
[EntityName("segmentation-events:segment-exited")]
public sealed record SegmentExited(
    string CustomerId,
    string Segment,
    string? Group,
    string? Channel,
    string RulesetVersion,
    DateTimeOffset ExitedAt);
