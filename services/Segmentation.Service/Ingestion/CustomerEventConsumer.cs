using MassTransit;
using Segmentation.Service.Membership;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Ingestion;

/// <summary>Consumes every customer lifecycle contract published through MassTransit.</summary>
public sealed class CustomerEventConsumer(CustomerEventNormalizer normalizer, MembershipDecider recorder) :
    IConsumer<CustomerSignedUp>,
    IConsumer<OrderPurchased>,
    IConsumer<ProfileUpdated>,
    IConsumer<CustomerUnsubscribed>,
    IConsumer<CustomerEvent>
{
    public Task Consume(ConsumeContext<CustomerSignedUp> context) =>
        recorder.Record(context.Message.CustomerId, normalizer.Normalize(context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<OrderPurchased> context) =>
        recorder.Record(context.Message.CustomerId, normalizer.Normalize(context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<ProfileUpdated> context) =>
        recorder.Record(context.Message.CustomerId, normalizer.Normalize(context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<CustomerUnsubscribed> context) =>
        recorder.Record(context.Message.CustomerId, normalizer.Normalize(context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<CustomerEvent> context) =>
        recorder.Record(context.Message.CustomerId, normalizer.Normalize(context.Message), context.CancellationToken);
}

/// <summary>
/// Consumes plain-JSON <see cref="CustomerEvent"/> messages from publishers that are not .NET.
/// A separate consumer because the raw deserializer offers every body as every message type.
/// </summary>
public sealed class RawCustomerEventConsumer(CustomerEventNormalizer normalizer, MembershipDecider recorder) :
    IConsumer<CustomerEvent>
{
    public Task Consume(ConsumeContext<CustomerEvent> context) =>
        recorder.Record(context.Message.CustomerId, normalizer.Normalize(context.Message), context.CancellationToken);
}
