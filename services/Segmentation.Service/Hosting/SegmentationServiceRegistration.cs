using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using JasperFx.Events.Projections;
using JasperFx.OpenTelemetry;
using Marten;
using MassTransit;
using SegmentationEvents.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Segmentation.Service.OperatorConsole;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Profiles;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Hosting;

public static class SegmentationServiceRegistration
{
    public const string MartenTelemetryName = "Marten";

    public static IServiceCollection AddSegmentationService(
        this IServiceCollection services, SegmentationSettings settings, IConfiguration? configuration = null)
    {
        configuration ??= new ConfigurationBuilder().Build();
        services.AddServiceTelemetry(configuration, "segmentation-service",
            [SegmentationTelemetry.SourceName, MartenTelemetryName], [SegmentationMetrics.MeterName, MartenTelemetryName]);
        services.TryAddSingleton(TimeProvider.System);
        // The admin API writes enums as the words the CLI and the README use ("conflict", "entered").
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(
            new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase)));
        services.AddSingleton(settings);
        services.AddAdminAccess(configuration);
        services.AddMetrics();
        services.AddSingleton<SegmentationMetrics>();
        services.AddTransientFaultRetry(configuration);
        services.AddOptions<IngestionOptions>().BindConfiguration("Segmentation:Ingestion");
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<IngestionOptions>>().Value);
        services.TryAddSingleton(_ => Npgsql.NpgsqlDataSource.Create(settings.PostgresConnection));
        services.AddSingleton<CustomerEventNormalizer>();
        services.AddSingleton<RecordedEventIds>();
        services.AddSingleton<CustomerSchedule>();
        services.AddScoped<MembershipDecider>();
        // Before the bus: started first and stopped last, so consumers never submit to a stopped batcher.
        services.AddSingleton<IngestionBatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<IngestionBatcher>());
        services.AddScoped<RulesetCatalog>();
        services.AddSingleton<ActiveRuleset>();
        services.AddSingleton<RulesetWatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<RulesetWatcher>());
        services.AddHealthChecks()
            .AddPostgresReadiness(sp => sp.GetRequiredService<Npgsql.NpgsqlDataSource>())
            .AddCheck<RelayHealthCheck>("relay", tags: [HealthEndpoints.ReadyTag]);
        services.AddSingleton<RecordedLags>();
        services.AddHostedService(sp => sp.GetRequiredService<RecordedLags>());
        services.AddSingleton<ErrorQueues>();
        services.AddSingleton<DueCustomerSweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<DueCustomerSweeper>());
        services.AddSingleton<CustomerScheduleBackfill>();
        services.AddHostedService(sp => sp.GetRequiredService<CustomerScheduleBackfill>());
        services.AddSingleton<ReevaluationProgress>();
        services.AddHostedService(sp => sp.GetRequiredService<ReevaluationProgress>());

        var marten = services.AddMarten(options =>
            {
                options.Connection(settings.PostgresConnection);
                options.DatabaseSchemaName = settings.SchemaName;
                options.UseSystemTextJsonForSerialization();
                options.Events.StreamIdentity = StreamIdentity.AsString;
                // Nothing inline reads event metadata, and the decider states each append's expected version itself:
                // the quick append assigns versions and sequence numbers in the database, without the round trips
                // the rich mode makes first (measured in the benchmarks' e2e).
                options.Events.AppendMode = EventAppendMode.Quick;
                // A writer that lost the race waits for the winner and fails before taking sequence numbers, so a lost
                // race leaves no gap in the event sequence for the relay to wait out.
                options.Events.UseExclusiveLockOnConcurrentAppends = true;
                options.Events.MetadataConfig.HeadersEnabled = true; // trace context travels with the events
                options.OpenTelemetry.TrackConnections = TrackLevel.Normal;
                options.OpenTelemetry.TrackEventCounters();
                options.Events.AddEventTypes([typeof(CustomerEventRecorded), typeof(CustomerEnteredSegment), typeof(CustomerExitedSegment), typeof(CustomerEvaluated)]);
                options.Schema.For<CustomerProfile>();
                options.Schema.For<SegmentDay>().Index(d => d.Day);
                options.Storage.ExtendedSchemaObjects.Add(RecordedEventIds.Definition(settings.SchemaName));
                options.Storage.ExtendedSchemaObjects.AddRange(CustomerSchedule.Definitions(settings.SchemaName));
                // The relay's latency is the daemon's polling: measured (benchmarks e2e) 50/250 ms gave a
                // publish-to-downstream p50 of 137 ms, 10/25 ms gives 26 ms, for ~40 cheap queries/s when idle.
                options.Projections.FastPollingTime = TimeSpan.FromMilliseconds(10);
                options.Projections.SlowPollingTime = TimeSpan.FromMilliseconds(25);
                // One async daemon leader per schema, so several stores can share a database (tests, tenants).
                options.Projections.DaemonLockId = StableLockId(settings.SchemaName);
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
            })
            .UseLightweightSessions()
            .ApplyAllDatabaseChangesOnStartup();
        if (settings.RunRelay)
        {
            // The per-day tally runs with the relay, on whichever instance leads the daemon.
            marten.AddSubscriptionWithServices<SegmentEventRelay>(ServiceLifetime.Singleton)
                .AddSubscriptionWithServices<SegmentDailyTally>(ServiceLifetime.Singleton)
                .AddAsyncDaemon(DaemonMode.HotCold);
        }

        services.AddMassTransit(bus =>
        {
            bus.ApplyServiceDefaults(configuration);
            bus.AddConsumer<CustomerEventConsumer>();
            bus.AddConsumer<RawCustomerEventConsumer>();
            bus.UsingRabbitMq((context, rabbit) =>
            {
                rabbit.Host(settings.RabbitMqUrl);
                rabbit.WriteStorageCommandsAsText();
                rabbit.ConfigureIngestionEndpoints(context, settings.Concurrency);
            });
        });
        return services;
    }

    private static int StableLockId(string schemaName) =>
        BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(schemaName)));
}
