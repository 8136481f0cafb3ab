using System.Net.Mime;
using MassTransit;
using Segmentation.Service.Membership;
using SegmentationEvents.Contracts;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Ingestion;

/// <summary>
/// The two receive endpoints of ingestion. Their consumers hand each accepted event to the
/// <see cref="IngestionBatcher"/> (which decides one customer's events in order and commits many
/// customers' per transaction), retry a lost optimistic-concurrency race, and wait out a transient
/// failure of PostgreSQL or RabbitMQ (<see cref="TransientFaults"/>); a message that fails validation,
/// reuses a recorded event id or can never be stored skips the retries and goes to the endpoint's
/// <c>_error</c> queue with the reason.
/// </summary>
public static class CustomerEventEndpoints
{
    public const string QueueName = "segmentation-customer-events";
    public const string RawQueueName = "segmentation-customer-events-raw";

    /// <summary>Fanout exchange that non-.NET publishers send plain JSON <see cref="RawCustomerEvent"/> bodies to.</summary>
    public const string RawExchangeName = "segmentation.customer-events";

    public static void ConfigureIngestionEndpoints(this IRabbitMqBusFactoryConfigurator bus, IBusRegistrationContext context, int concurrency)
    {
        bus.ReceiveEndpoint(QueueName, endpoint =>
        {
            ConfigureDelivery(endpoint, concurrency, context);
            endpoint.ConfigureConsumer<CustomerEventConsumer>(context);
        });

        bus.ReceiveEndpoint(RawQueueName, endpoint =>
        {
            endpoint.ConfigureConsumeTopology = false;
            endpoint.DefaultContentType = new ContentType("application/json");
            endpoint.AddDeserializer(new RawCustomerEventDeserializer(), isDefault: true);
            endpoint.Bind(RawExchangeName);
            ConfigureDelivery(endpoint, concurrency, context);
            endpoint.ConfigureConsumer<RawCustomerEventConsumer>(context);
        });
    }

    private static void ConfigureDelivery(IRabbitMqReceiveEndpointConfigurator endpoint, int concurrency, IBusRegistrationContext context)
    {
        endpoint.PrefetchCount = (ushort)Math.Min(concurrency * 2, ushort.MaxValue);
        endpoint.ConcurrentMessageLimit = concurrency;
        endpoint.UseTransientFaultRetry(context);
        endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<Exception>(StreamRaces.IsLostRace);
            // Two first deliveries of one event id at once: the loser finds the id recorded and decides again.
            retry.Handle<Exception>(RecordedEventIds.IsConcurrentFirstRecord);
            retry.ConnectRetryObserver(new ConcurrencyRetryObserver(context.GetRequiredService<SegmentationMetrics>()));
            retry.Intervals(0, 5, 10, 25, 50, 100, 200, 400, 800, 1600);
        });
    }

    private sealed class ConcurrencyRetryObserver(SegmentationMetrics metrics) : IRetryObserver
    {
        public Task PostCreate<T>(RetryPolicyContext<T> context) where T : class, PipeContext => Task.CompletedTask;

        public Task PostFault<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;

        public Task PreRetry<T>(RetryContext<T> context) where T : class, PipeContext
        {
            metrics.ConcurrencyRetry();
            System.Diagnostics.Activity.Current?.AddEvent(new System.Diagnostics.ActivityEvent("concurrency.retry",
                tags: new System.Diagnostics.ActivityTagsCollection { ["retry.attempt"] = context.RetryAttempt + 1 }));
            return Task.CompletedTask;
        }

        public Task RetryFault<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;

        public Task RetryComplete<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;
    }
}
