using MassTransit;

namespace SegmentationEvents.Contracts;

/// <summary>
/// Every upstream message names the customer, carries an id unique to that occurrence
/// (redeliveries and retries keep it) and the instant it happened in the upstream system.
/// </summary>
[ExcludeFromTopology]
public interface ICustomerLifecycleEvent
{
    Guid EventId { get; }
    string CustomerId { get; }
    DateTimeOffset OccurredAt { get; }
}

[MessageUrn("segmentation-events:customer-signed-up")]
[EntityName("segmentation-events:customer-signed-up")]
public sealed record CustomerSignedUp(
    Guid EventId,
    string CustomerId,
    DateTimeOffset OccurredAt,
    string? Email = null,
    string? Country = null) : ICustomerLifecycleEvent;

[MessageUrn("segmentation-events:order-purchased")]
[EntityName("segmentation-events:order-purchased")]
public sealed record OrderPurchased(
    Guid EventId,
    string CustomerId,
    DateTimeOffset OccurredAt,
    string OrderId,
    decimal Amount,
    string Currency) : ICustomerLifecycleEvent;

/// <summary>Sets profile attributes; each value is a string, number, boolean or null.</summary>
[MessageUrn("segmentation-events:profile-updated")]
[EntityName("segmentation-events:profile-updated")]
public sealed record ProfileUpdated(
    Guid EventId,
    string CustomerId,
    DateTimeOffset OccurredAt,
    IReadOnlyDictionary<string, object?> Attributes) : ICustomerLifecycleEvent;

[MessageUrn("segmentation-events:customer-unsubscribed")]
[EntityName("segmentation-events:customer-unsubscribed")]
public sealed record CustomerUnsubscribed(
    Guid EventId,
    string CustomerId,
    DateTimeOffset OccurredAt,
    string Channel) : ICustomerLifecycleEvent;

/// <summary>
/// Any named customer event. Publishers that are not .NET send the same fields as plain JSON to the
/// <c>segmentation.customer-events</c> exchange, where the event id may be any string (see README, "Messages").
/// </summary>
[MessageUrn("segmentation-events:customer-event")]
[EntityName("segmentation-events:customer-event")]
public sealed record CustomerEvent(
    Guid EventId,
    string CustomerId,
    string Type,
    DateTimeOffset OccurredAt,
    IReadOnlyDictionary<string, object?>? Properties = null) : ICustomerLifecycleEvent;
