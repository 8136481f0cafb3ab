using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using RabbitMQ.Client.Exceptions;

namespace SegmentationEvents.ServiceDefaults;

/// <summary>
/// Failures of PostgreSQL or RabbitMQ that go away by themselves: a restart, a failover, a dropped connection, a timeout.
/// A message that meets one is not poison: it is retried with exponential backoff until the dependency answers again.
/// Only what can never succeed (validation, a reused event id, an event PostgreSQL refuses) reaches an error queue.
/// </summary>
public static class TransientFaults
{
    public static bool IsTransient(Exception exception)
    {
        switch (exception)
        {
            case PostgresException postgres:
                // The server's verdict on the statement decides; a wrapper around it says nothing more.
                return postgres.IsTransient || postgres.SqlState.StartsWith("08", StringComparison.Ordinal);
            case NpgsqlException { IsTransient: true }:
            case TimeoutException:
            case SocketException:
            case IOException: // also RabbitMQ's BrokerUnreachableException
            case AlreadyClosedException:
            case RabbitMqConnectionException:
                return true;
            case AggregateException aggregate:
                return aggregate.InnerExceptions.Any(IsTransient);
            default:
                return exception.InnerException is { } inner && IsTransient(inner);
        }
    }

    /// <summary>A short, low-cardinality name of the failure for metrics and logs: the exception type, and the SqlState when PostgreSQL gave one.</summary>
    public static string Describe(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException postgres) return $"{nameof(PostgresException)} {postgres.SqlState}";
        }
        var innermost = exception;
        while (innermost.InnerException is { } inner && IsTransient(inner)) innermost = inner;
        return innermost is SocketException socket ? $"{nameof(SocketException)} {socket.SocketErrorCode}" : innermost.GetType().Name;
    }

    /// <summary>
    /// Retries a transient failure with exponential backoff (<see cref="TransientRetryOptions"/>). While an endpoint's messages
    /// wait on one, its concurrency slots are taken by those messages, so it takes nothing new from the broker: consumption is
    /// paused, and <c>messaging.consumption.paused</c> and a log line say so and why. Call it before the endpoint's other
    /// retry policies, so theirs apply to each attempt.
    /// </summary>
    public static void UseTransientFaultRetry(this IReceiveEndpointConfigurator endpoint, IServiceProvider services)
    {
        var pauses = services.GetRequiredService<ConsumptionPauses>();
        var pause = pauses.For(endpoint.InputAddress.AbsolutePath.Split('/').Last());
        endpoint.UseMessageRetry(retry =>
        {
            retry.Handle<Exception>(IsTransient);
            retry.Intervals(pauses.Options.Intervals().ToArray());
            retry.ConnectRetryObserver(pause);
        });
    }

    /// <summary>Registers the retry limits (section <see cref="TransientRetryOptions.Section"/>) and the pause tracking.</summary>
    public static IServiceCollection AddTransientFaultRetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection(TransientRetryOptions.Section).Get<TransientRetryOptions>() ?? new TransientRetryOptions());
        services.AddSingleton<ConsumptionPauses>();
        return services;
    }

    /// <summary>
    /// MassTransit copies <see cref="Exception.Data"/> of every exception in a fault's chain into the <c>Fault</c> it publishes.
    /// Marten stores the failed <see cref="DbCommand"/> there; serialising a live command walks into Npgsql's type mapper, an
    /// interface MassTransit cannot build a proxy of, so building the fault failed and that failure replaced the real cause in
    /// <c>MT-Fault-Message</c>. A command or batch is written as its SQL text instead.
    /// </summary>
    public static void WriteStorageCommandsAsText(this IBusFactoryConfigurator bus) =>
        bus.ConfigureJsonSerializerOptions(options =>
        {
            options.Converters.Add(new CommandAsTextConverter());
            return options;
        });

    private sealed class CommandAsTextConverter : JsonConverterFactory
    {
        public override bool CanConvert(Type typeToConvert) =>
            typeof(DbCommand).IsAssignableFrom(typeToConvert) || typeof(DbBatch).IsAssignableFrom(typeToConvert);

        public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
            (JsonConverter)Activator.CreateInstance(typeof(Writer<>).MakeGenericType(typeToConvert))!;

        private sealed class Writer<T> : JsonConverter<T>
        {
            public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
                throw new NotSupportedException($"A {typeof(T).Name} is only ever written, as its SQL text.");

            public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
                writer.WriteStringValue(value switch
                {
                    DbCommand command => command.CommandText,
                    DbBatch batch => string.Join(";\n", batch.BatchCommands.Cast<DbBatchCommand>().Select(c => c.CommandText)),
                    _ => null,
                });
        }
    }
}

/// <summary>How long and how often a message that met a transient failure is retried. See README, "Operating it".</summary>
public sealed class TransientRetryOptions
{
    public const string Section = "Messaging:TransientRetry";

    /// <summary>Wait before the first retry; each next wait doubles.</summary>
    public TimeSpan FirstInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest wait between two attempts: also the longest delay between the dependency's return and the resumption.</summary>
    public TimeSpan MaxInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Total wait after which a message still failing goes to the error queue with the transient cause.</summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromMinutes(15);

    public IEnumerable<TimeSpan> Intervals()
    {
        var waited = TimeSpan.Zero;
        for (var next = FirstInterval; waited < GiveUpAfter; next = TimeSpan.FromTicks(Math.Min(next.Ticks * 2, MaxInterval.Ticks)))
        {
            yield return next;
            waited += next;
        }
    }
}

/// <summary>
/// Whether each receive endpoint is paused on a transient failure, as the gauge <c>messaging.consumption.paused</c> (1 while
/// paused, tags <c>endpoint</c> and <c>reason</c>), the counter <c>messaging.transient.retries</c>, and a warning when a pause
/// starts and when it ends.
/// </summary>
public sealed class ConsumptionPauses
{
    public const string MeterName = "SegmentationEvents.Messaging";

    private readonly ConcurrentDictionary<string, EndpointPause> _endpoints = new(StringComparer.Ordinal);
    private readonly Counter<long> _retries;
    private readonly ILogger<ConsumptionPauses> _logger;
    private readonly TimeProvider _time;

    public ConsumptionPauses(TransientRetryOptions options, IMeterFactory meterFactory, ILogger<ConsumptionPauses> logger, TimeProvider time)
    {
        Options = options;
        _logger = logger;
        _time = time;
        var meter = meterFactory.Create(MeterName);
        _retries = meter.CreateCounter<long>("messaging.transient.retries", "{retry}",
            "Attempts of a message retried after a transient failure of PostgreSQL or RabbitMQ, by endpoint and reason");
        meter.CreateObservableGauge("messaging.consumption.paused", () => _endpoints.Values.Select(e => e.Measure()), "{endpoint}",
            "1 while an endpoint's messages wait on a transient failure (consumption paused), by endpoint and reason");
    }

    public TransientRetryOptions Options { get; }

    internal EndpointPause For(string endpoint) => _endpoints.GetOrAdd(endpoint, name => new EndpointPause(name, this));

    internal sealed class EndpointPause(string endpoint, ConsumptionPauses owner) : IRetryObserver
    {
        private readonly Lock _lock = new();
        private string? _reason;
        private DateTimeOffset _since;
        private long _retries;

        public Measurement<int> Measure()
        {
            lock (_lock)
            {
                return new Measurement<int>(_reason is null ? 0 : 1,
                    new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("reason", _reason ?? "none"));
            }
        }

        public Task PostFault<T>(RetryContext<T> context) where T : class, PipeContext
        {
            var reason = TransientFaults.Describe(context.Exception);
            owner._retries.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("reason", reason));
            lock (_lock)
            {
                _retries++;
                if (_reason is not null) return Task.CompletedTask;
                _reason = reason;
                _since = owner._time.GetUtcNow();
            }
            owner._logger.LogWarning(context.Exception,
                "Consumption of {Endpoint} paused: {Reason}. Messages are retried every {MaxInterval} at most, each for at most {GiveUpAfter}",
                endpoint, reason, owner.Options.MaxInterval, owner.Options.GiveUpAfter);
            return Task.CompletedTask;
        }

        public Task RetryComplete<T>(RetryContext<T> context) where T : class, PipeContext => Resume("resumed");

        public Task RetryFault<T>(RetryContext<T> context) where T : class, PipeContext =>
            Resume($"gave a message up to its error queue after {owner.Options.GiveUpAfter}");

        public Task PostCreate<T>(RetryPolicyContext<T> context) where T : class, PipeContext => Task.CompletedTask;

        public Task PreRetry<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;

        private Task Resume(string how)
        {
            string reason;
            TimeSpan paused;
            long retries;
            lock (_lock)
            {
                if (_reason is null) return Task.CompletedTask;
                (reason, paused, retries) = (_reason, owner._time.GetUtcNow() - _since, _retries);
                _reason = null;
                _retries = 0;
            }
            owner._logger.LogWarning("Consumption of {Endpoint} {How}: paused {PausedSeconds:0.0} s by {Reason}, {Retries} retries",
                endpoint, how, paused.TotalSeconds, reason, retries);
            return Task.CompletedTask;
        }
    }
}
