using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Profiles;

namespace Segmentation.Service.Hosting;

public static class SegmentationServiceRegistration
{
    public static IServiceCollection AddSegmentationService(this IServiceCollection services, SegmentationSettings settings)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(settings);
        services.AddOptions<IngestionOptions>().BindConfiguration("Segmentation:Ingestion");
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<IngestionOptions>>().Value);
        services.AddSingleton<CustomerEventNormalizer>();
        services.AddScoped<CustomerEventRecorder>();

        services.AddMarten(options =>
            {
                options.Connection(settings.PostgresConnection);
                options.DatabaseSchemaName = settings.SchemaName;
                options.UseSystemTextJsonForSerialization();
                options.Events.StreamIdentity = StreamIdentity.AsString;
                options.Projections.Add<CustomerProfileProjection>(ProjectionLifecycle.Inline);
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            })
            .UseLightweightSessions()
            .ApplyAllDatabaseChangesOnStartup();

        services.AddMassTransit(bus =>
        {
            bus.AddConsumer<CustomerEventConsumer>();
            bus.AddConsumer<RawCustomerEventConsumer>();
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(settings.RabbitMqUrl);
                rabbit.ConfigureIngestionEndpoints(context, settings.Concurrency);
            });
        });
        return services;
    }
}
