using System.Diagnostics;
using System.Threading.Channels;
using Segmentation.Service.Membership;
using SegmentationEvents.ServiceDefaults;

namespace Segmentation.Service.Ingestion;

/// <summary>An accepted event waiting for its commit, with the consume span it came from.</summary>
public sealed record SubmittedEvent(AcceptedCustomerEvent Accepted, ActivityContext ConsumedIn);

/// <summary>
/// Commits many customers' events per transaction. Consumers submit each accepted event and wait for its commit, so
/// a message is acknowledged only once it is stored. <see cref="IngestionOptions.Writers"/> writers each own the
/// customers whose id hashes to them and commit one batch at a time: one customer's events are decided in the order
/// they were submitted and never by two writers of this process at once. A writer takes what is waiting, up to
/// <see cref="IngestionOptions.BatchSize"/>, waiting at most <see cref="IngestionOptions.BatchWait"/> for more, so
/// under light load an event is committed alone and at once, and under heavy load the batches fill while the previous
/// commit runs. When a commit fails the batch is stored as nothing: a customer who lost a race on their stream (another
/// instance or the sweeper committed first) is failed alone, its consumer retries it, and the rest is committed again;
/// a failure of the database that goes away (<see cref="TransientFaults"/>) fails the whole batch, whose consumers wait it
/// out; any other failure commits each event alone, so one bad event fails only its own message.
/// </summary>
public sealed class IngestionBatcher : BackgroundService
{
    private readonly IServiceScopeFactory _scopes;
    private readonly IngestionOptions _options;
    private readonly TimeProvider _time;
    private readonly SegmentationMetrics _metrics;
    private readonly ILogger<IngestionBatcher> _logger;
    private readonly Channel<Pending>[] _writers;

    public IngestionBatcher(IServiceScopeFactory scopes, IngestionOptions options, TimeProvider time, SegmentationMetrics metrics, ILogger<IngestionBatcher> logger)
    {
        if (options.BatchSize < 1) throw new ArgumentException($"Segmentation:Ingestion:BatchSize must be at least 1, not {options.BatchSize}");
        if (options.Writers < 1) throw new ArgumentException($"Segmentation:Ingestion:Writers must be at least 1, not {options.Writers}");
        (_scopes, _options, _time, _metrics, _logger) = (scopes, options, time, metrics, logger);
        _writers = [.. Enumerable.Range(0, options.Writers).Select(_ => Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true }))];
    }

    /// <summary>Completes when the event is committed (or found to be a redelivery); throws why it was not.</summary>
    public Task Submit(AcceptedCustomerEvent accepted, CancellationToken cancellationToken)
    {
        var pending = new Pending(new SubmittedEvent(accepted, Activity.Current?.Context ?? default));
        var writer = _writers[(int)((uint)StringComparer.Ordinal.GetHashCode(accepted.CustomerId) % (uint)_writers.Length)];
        if (!writer.Writer.TryWrite(pending)) throw new OperationCanceledException("ingestion is stopping");
        return pending.Committed.Task.WaitAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_writers.Select(writer => Run(writer.Reader, stoppingToken)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var writer in _writers) writer.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
        // What was not committed is not acknowledged either: RabbitMQ delivers it again.
        foreach (var writer in _writers)
            while (writer.Reader.TryRead(out var left)) left.Committed.TrySetCanceled(CancellationToken.None);
    }

    private async Task Run(ChannelReader<Pending> reader, CancellationToken stoppingToken)
    {
        var batch = new List<Pending>(_options.BatchSize);
        while (await reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            await Take(reader, batch, stoppingToken);
            _metrics.IngestionBatch(batch.Count);
            await Commit(batch, stoppingToken);
        }
    }

    private async Task Take(ChannelReader<Pending> reader, List<Pending> batch, CancellationToken stoppingToken)
    {
        while (batch.Count < _options.BatchSize && reader.TryRead(out var next)) batch.Add(next);
        if (batch.Count == _options.BatchSize || _options.BatchWait <= TimeSpan.Zero) return;

        using var waited = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        waited.CancelAfter(_options.BatchWait);
        try
        {
            while (batch.Count < _options.BatchSize && await reader.WaitToReadAsync(waited.Token))
                while (batch.Count < _options.BatchSize && reader.TryRead(out var next)) batch.Add(next);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The wait is over: commit what came.
        }
    }

    private async Task Commit(List<Pending> batch, CancellationToken stoppingToken)
    {
        var remaining = batch;
        while (remaining.Count > 0)
        {
            try
            {
                var outcomes = await Record(remaining, stoppingToken);
                for (var i = 0; i < remaining.Count; i++)
                    if (outcomes[i] is { } refused) remaining[i].Committed.TrySetException(refused);
                    else remaining[i].Committed.TrySetResult();
                return;
            }
            catch (Exception e) when (remaining.Count > 1 && StreamRaces.LostRaceOn(e) is { } customerId)
            {
                _logger.LogDebug("A batch of {Count} lost the race on customer {CustomerId}; committing it again without them", remaining.Count, customerId);
                foreach (var loser in remaining.Where(p => p.Event.Accepted.CustomerId == customerId)) loser.Committed.TrySetException(e);
                remaining = [.. remaining.Where(p => p.Event.Accepted.CustomerId != customerId)];
            }
            catch (Exception e) when (remaining.Count > 1 && !stoppingToken.IsCancellationRequested && !TransientFaults.IsTransient(e))
            {
                _logger.LogWarning(e, "A batch of {Count} failed to commit; committing each event alone", remaining.Count);
                foreach (var alone in remaining) await Commit([alone], stoppingToken);
                return;
            }
            catch (Exception e)
            {
                foreach (var pending in remaining) pending.Committed.TrySetException(e);
                return;
            }
        }
    }

    private async Task<IReadOnlyList<DuplicateEventIdException?>> Record(List<Pending> batch, CancellationToken stoppingToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var started = _time.GetTimestamp();
        var outcomes = await scope.ServiceProvider.GetRequiredService<MembershipDecider>().Record([.. batch.Select(p => p.Event)], stoppingToken);
        _metrics.IngestionCommit(_time.GetElapsedTime(started));
        return outcomes;
    }

    private sealed class Pending(SubmittedEvent submitted)
    {
        public SubmittedEvent Event { get; } = submitted;

        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
