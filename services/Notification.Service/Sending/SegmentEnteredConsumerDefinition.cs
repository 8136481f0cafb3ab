using MassTransit;
using Notification.Service.Hosting;
using Npgsql;

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
        // A database hiccup re-runs the whole decision; the message id keeps the retry idempotent.
        endpointConfigurator.UseMessageRetry(retry =>
        {
            retry.Handle<NpgsqlException>();
            retry.Exponential(8, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(200));
        });
    }
}
