using MassTransit;
using Notification.Service.Hosting;
using SegmentationEvents.ServiceDefaults;

namespace Notification.Service.Sending;

public sealed class SegmentEnteredConsumerDefinition : ConsumerDefinition<SegmentEnteredConsumer>
{
    public const string QueueName = "notification-segment-entered";

    public SegmentEnteredConsumerDefinition(NotificationSettings settings)
    {
        EndpointName = QueueName;
        // Entries for one customer may be decided concurrently: the ledger serialises them per customer and group.
        ConcurrentMessageLimit = settings.Concurrency;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<SegmentEnteredConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // A database or broker outage re-runs the whole decision once it is over; the message id keeps the retry idempotent.
        endpointConfigurator.UseTransientFaultRetry(context);
    }
}
