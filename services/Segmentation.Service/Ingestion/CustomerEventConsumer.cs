using MassTransit;
using Segmentation.Service.Membership;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Ingestion;

/// <summary>Consumes every customer lifecycle contract published through MassTransit.</summary>
public sealed class CustomerEventConsumer(CustomerEventNormalizer normalizer, MembershipDecider decider) :
    IConsumer<CustomerSignedUp>,
    IConsumer<OrderPurchased>,
    IConsumer<ProfileUpdated>,
    IConsumer<CustomerUnsubscribed>,
    IConsumer<CustomerEvent>
{
    public Task Consume(ConsumeContext<CustomerSignedUp> context) =>
        decider.Record(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<OrderPurchased> context) =>
        decider.Record(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<ProfileUpdated> context) =>
        decider.Record(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<CustomerUnsubscribed> context) =>
        decider.Record(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<CustomerEvent> context) =>
        decider.Record(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);
}

/// <summary>
/// Consumes plain-JSON <see cref="RawCustomerEvent"/> bodies from publishers that are not .NET.
/// A separate consumer because the raw deserializer offers every body as every message type.
/// </summary>
public sealed class RawCustomerEventConsumer(CustomerEventNormalizer normalizer, MembershipDecider decider) :
    IConsumer<RawCustomerEvent>
{
    public Task Consume(ConsumeContext<RawCustomerEvent> context) =>
        decider.Record(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);
}
