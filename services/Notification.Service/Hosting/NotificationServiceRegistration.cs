using MassTransit;
using SegmentationEvents.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Notification.Service.Sending;

namespace Notification.Service.Hosting;

public static class NotificationServiceRegistration
{
    /// <summary>
    /// Everything the notification service runs: its tables (created at start), the
    /// <see cref="SegmentEnteredConsumer"/> on queue <c>notification-segment-entered</c>, metrics and traces,
    /// health checks. Cooldowns come from the <c>Notification:Cooldowns</c> configuration section.
    /// A <see cref="TimeProvider"/> registered before this call (e.g. a FakeTimeProvider) is kept.
    /// </summary>
    public static IServiceCollection AddNotificationService(
        this IServiceCollection services, NotificationSettings settings, IConfiguration? configuration = null)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(settings);
        configuration ??= new ConfigurationBuilder().Build();
        services.AddAdminAccess(configuration);
        services.AddMetrics();
        services.AddOptions<NotificationOptions>().BindConfiguration("Notification");
        services.AddSingleton<NotificationDatabase>();
        services.AddSingleton<NotificationMetrics>();
        services.AddSingleton<SendLedger>();
        services.AddTransientFaultRetry(configuration);

        // Registered before MassTransit's hosted service, so the tables exist before the first message.
        services.AddHostedService<NotificationSchemaInitializer>();

        services.AddHealthChecks().AddPostgresReadiness(sp => sp.GetRequiredService<NotificationDatabase>().DataSource);

        services.AddMassTransit(bus =>
        {
            bus.ApplyServiceDefaults(configuration);
            bus.AddConsumer<SegmentEnteredConsumer, SegmentEnteredConsumerDefinition>();
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(settings.RabbitMqUrl);
                rabbit.WriteStorageCommandsAsText();
                rabbit.ConfigureEndpoints(context);
            });
        });

        services.AddServiceTelemetry(configuration ?? new ConfigurationBuilder().Build(), "notification-service",
            [NotificationMetrics.MeterName], [NotificationMetrics.MeterName]);
        return services;
    }
}
