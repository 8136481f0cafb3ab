using MassTransit;
using SegmentationEvents.Contracts;

namespace Segmentation.Service.Ingestion;

/// <summary>Consumes every customer lifecycle contract published through MassTransit.</summary>
public sealed class CustomerEventConsumer(CustomerEventNormalizer normalizer, IngestionBatcher batcher) :
    IConsumer<CustomerSignedUp>,
    IConsumer<OrderPurchased>,
    IConsumer<ProfileUpdated>,
    IConsumer<CustomerUnsubscribed>,
    IConsumer<CustomerEvent>
{
    public Task Consume(ConsumeContext<CustomerSignedUp> context) =>
        batcher.Submit(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<OrderPurchased> context) =>
        batcher.Submit(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<ProfileUpdated> context) =>
        batcher.Submit(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<CustomerUnsubscribed> context) =>
        batcher.Submit(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);

    public Task Consume(ConsumeContext<CustomerEvent> context) =>
        batcher.Submit(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);
}

/// <summary>
/// Consumes plain-JSON <see cref="RawCustomerEvent"/> bodies from publishers that are not .NET.
/// A separate consumer because the raw deserializer offers every body as every message type.
/// </summary>
public sealed class RawCustomerEventConsumer(CustomerEventNormalizer normalizer, IngestionBatcher batcher) :
    IConsumer<RawCustomerEvent>
{
    public Task Consume(ConsumeContext<RawCustomerEvent> context) =>
        batcher.Submit(normalizer.Normalize(context.Message, context.ReceiveContext.Body.Length), context.CancellationToken);
}
