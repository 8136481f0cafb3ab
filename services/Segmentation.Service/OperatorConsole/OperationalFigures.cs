using System.Diagnostics.Metrics;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Segmentation.Service.Hosting;
using Segmentation.Service.Ingestion;

namespace Segmentation.Service.OperatorConsole;

/// <summary>
/// The latest relay and sweeper lags this instance recorded, heard from its own <see cref="SegmentationMetrics"/>
/// instruments (the figures the metrics export), so the console and the dashboards never disagree. A hosted service so
/// that it listens from the start, before the relay's first publish.
/// </summary>
public sealed class RecordedLags : IHostedService, IDisposable
{
    public const string RelayLagInstrument = "segmentation.relay.lag";
    public const string SweeperLagInstrument = "segmentation.sweeper.lag";

    private readonly MeterListener _listener = new();
    private readonly TimeProvider _time;
    private Lag? _relay;
    private Lag? _sweeper;

    public RecordedLags(IMeterFactory meterFactory, TimeProvider time)
    {
        _time = time;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this service's meter: a test process hosts several services, each with its own factory.
            if (instrument.Meter.Name == SegmentationMetrics.MeterName && instrument.Meter.Scope == meterFactory
                && instrument.Name is RelayLagInstrument or SweeperLagInstrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((instrument, seconds, _, _) =>
        {
            var lag = new Lag(seconds, _time.GetUtcNow());
            if (instrument.Name == RelayLagInstrument) _relay = lag;
            else _sweeper = lag;
        });
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _listener.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Lag? Relay => _relay;

    public Lag? Sweeper => _sweeper;

    public void Dispose() => _listener.Dispose();
}

/// <summary>A lag in seconds and when it was recorded.</summary>
public sealed record Lag(double Seconds, DateTimeOffset RecordedAt);

/// <summary>
/// Messages waiting in the ingestion endpoints' error queues, asked of the broker (a passive declare, which creates
/// nothing). One connection is opened on first use and kept.
/// </summary>
public sealed class ErrorQueues(SegmentationSettings settings) : IAsyncDisposable
{
    public static readonly string[] Names = [CustomerEventEndpoints.QueueName + "_error", CustomerEventEndpoints.RawQueueName + "_error"];

    private readonly SemaphoreSlim _connecting = new(1, 1);
    private IConnection? _connection;

    public async Task<IReadOnlyList<ErrorQueueDepth>> Depths(CancellationToken cancellationToken)
    {
        var connection = await Connection(cancellationToken);
        var depths = new List<ErrorQueueDepth>();
        foreach (var queue in Names)
        {
            await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            try
            {
                var declared = await channel.QueueDeclarePassiveAsync(queue, cancellationToken);
                depths.Add(new ErrorQueueDepth(queue, declared.MessageCount));
            }
            catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 404)
            {
                // MassTransit declares an error queue with the first message it moves there.
                depths.Add(new ErrorQueueDepth(queue, 0));
            }
        }

        return depths;
    }

    private async Task<IConnection> Connection(CancellationToken cancellationToken)
    {
        if (_connection is { IsOpen: true } open) return open;
        await _connecting.WaitAsync(cancellationToken);
        try
        {
            if (_connection is { IsOpen: true } opened) return opened;
            if (_connection is not null) await _connection.DisposeAsync();
            _connection = await new ConnectionFactory { Uri = settings.RabbitMqUrl, ClientProvidedName = "segmentation-console" }
                .CreateConnectionAsync(cancellationToken);
            return _connection;
        }
        finally
        {
            _connecting.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
        _connecting.Dispose();
    }
}

public sealed record ErrorQueueDepth(string Queue, uint Messages);
