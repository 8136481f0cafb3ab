using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using JasperFx.Events;
using Marten;
using Segmentation.Service.Ingestion;
using Segmentation.Service.Membership;
using Segmentation.Service.Tests.Membership;
using Xunit.Abstractions;

namespace Segmentation.FaultTests;

/// <summary>
/// One fault under load: its own database and vhost on the private servers, the notification service and segmentation
/// instances as child processes, the simulator's events published throughout. <see cref="Finish"/> checks the outcome
/// from the event log and the notification service and reports how long ingestion stalled and took to recover.
/// </summary>
public sealed class FaultRun : IAsyncDisposable
{
    private const int Customers = 150;
    private const int EventCount = 1_500;
    private const double EventsPerSecond = 100;
    private static readonly TimeSpan ContactCooldown = TimeSpan.FromHours(24);

    private readonly FaultServers _servers;
    private readonly string _name;
    private readonly ITestOutputHelper _output;
    private readonly Dictionary<string, string> _environment;
    private readonly List<ServiceProcess> _instances = [];
    private readonly List<(TimeSpan At, long Stored, long Published)> _samples = [];
    private readonly List<(TimeSpan At, bool Ready)> _readiness = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private ServiceProcess _notification = null!;
    private LoadPublisher _load = null!;
    private Task _publishing = Task.CompletedTask;
    private Task _sampling = Task.CompletedTask;
    private TimeSpan? _faultAt;
    private TimeSpan? _repairedAt;

    private FaultRun(FaultServers servers, string name, ITestOutputHelper output)
    {
        _servers = servers;
        _name = name;
        _output = output;
        _environment = new()
        {
            ["RABBITMQ_URL"] = servers.RabbitMq.Url(name).ToString(),
            ["POSTGRES_CONNECTION"] = servers.Postgres.ConnectionString(name),
            ["Segmentation__RulesetPath"] = Path.Combine(Repository.Root, "infra", "examples", "ruleset.yaml"),
            ["Notification__Cooldowns__contact"] = ContactCooldown.ToString(),
        };
    }

    public static async Task<FaultRun> Start(FaultServers servers, string name, ITestOutputHelper output)
    {
        await servers.Postgres.CreateDatabase(name);
        await servers.RabbitMq.AddVhost(name);
        var run = new FaultRun(servers, name, output);
        run._notification = await ServiceProcess.Start($"{name}-notification", "Notification.Service", run._environment);
        await run.StartInstance("a");
        run._load = await LoadPublisher.Connect(servers.RabbitMq.Url(name), Customers, EventCount, seed: name.GetHashCode(StringComparison.Ordinal) & 0xffff);
        run._sampling = run.SampleProgress(run._stop.Token);
        run._publishing = run._load.Run(EventsPerSecond, run._stop.Token);
        return run;
    }

    /// <summary>The instance that serves the admin API; the progress sampler reads <c>/stats</c> from it.</summary>
    public ServiceProcess Serving => _instances.Last(i => !i.HasExited);

    public async Task<ServiceProcess> StartInstance(string suffix)
    {
        var instance = await ServiceProcess.Start($"{_name}-{suffix}", "Segmentation.Service", _environment);
        lock (_instances) _instances.Add(instance);
        return instance;
    }

    /// <summary>Waits until a share of the load is published, so the fault lands with events in flight and more to come.</summary>
    public Task WhenPublished(double share) =>
        Until(() => Task.FromResult(_load.Published >= share * EventCount), $"{share:P0} of the events published", TimeSpan.FromMinutes(1));

    public void FaultInjected() => _faultAt = _clock.Elapsed;

    /// <summary>The dependency is back (or the replacement instance is ready): the outage lasted from the injection to now.</summary>
    public void FaultRepaired() => _repairedAt = _clock.Elapsed;

    /// <summary>Waits until an instance says it is not ready (the fault has reached it), so a restart follows a real outage.</summary>
    public Task UntilNotReady(ServiceProcess instance) =>
        Until(async () => !await instance.IsReady(), $"{instance.Name} reporting not ready", TimeSpan.FromSeconds(30));

    public async Task<Outcome> Finish()
    {
        await _publishing.WaitAsync(TimeSpan.FromMinutes(3));
        // Until all are stored, or nothing more is for a while (the events missing are then in an error queue or lost).
        await Until(() => Task.FromResult(LastSample.Stored >= EventCount || _clock.Elapsed - LastProgress > Settled),
            $"all {EventCount} events stored", TimeSpan.FromMinutes(3));

        using var store = OpenStore();
        var customers = _load.Events.Select(e => e.CustomerId).Distinct(StringComparer.Ordinal).ToList();
        var (lastSent, lastSendAt) = (-1, _clock.Elapsed);
        var (entries, sends) = await Until(async () =>
        {
            var channelEntries = await ChannelEntries(store, customers);
            var sent = await Sends();
            if (sent.Sent.Count != lastSent) (lastSent, lastSendAt) = (sent.Sent.Count, _clock.Elapsed);
            return (channelEntries, sent);
        }, seen => seen.sent.Sent.Count >= seen.channelEntries.Count || _clock.Elapsed - lastSendAt > Settled,
            "every entry with a channel sent", TimeSpan.FromMinutes(2));

        await using var session = store.QuerySession();
        var storedIds = await session.Events.QueryRawEventDataOnly<CustomerEventRecorded>().Select(e => e.EventId).ToListAsync();
        var invariants = await EventLogInvariants.Check(store, ContactCooldown, customers);
        var queues = await _servers.RabbitMq.QueueDepths(_name);
        var expectedIds = _load.Events.Select(e => e.EventId).ToHashSet();
        var sentIds = sends.Sent.GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());

        var outcome = new Outcome(
            Published: expectedIds.Count,
            StoredDistinct: storedIds.Distinct().Count(expectedIds.Contains),
            StoredTwice: storedIds.Count - storedIds.Distinct().Count(),
            ErrorQueued: queues.Where(q => q.Key.EndsWith("_error", StringComparison.Ordinal) || q.Key.EndsWith("_skipped", StringComparison.Ordinal)).Sum(q => q.Value),
            Violations: invariants.Violations,
            ChannelEntries: entries.Count,
            SendsLost: entries.Count(id => !sentIds.ContainsKey(id)),
            SendsDoubled: sentIds.Count(s => s.Value > 1) + sends.Sent.Count(id => !entries.Contains(id)),
            SendsRefused: sends.Refused,
            PublishRetries: _load.PublishRetries,
            Outage: (_repairedAt ?? _faultAt) - _faultAt ?? TimeSpan.Zero,
            NotReady: NotReadyAfterFault(),
            Stall: LongestStallAfterFault(),
            Resumed: ResumedAfterRepair());
        _output.WriteLine(outcome.Describe(_name));
        if (Environment.GetEnvironmentVariable("FAULT_RESULTS") is { Length: > 0 } results)
            await File.AppendAllTextAsync(results, outcome.Describe(_name) + Environment.NewLine);
        foreach (var queue in queues.Where(q => q.Value > 0)) _output.WriteLine($"  queue {queue.Key}: {queue.Value}");
        WriteTimeline();
        return outcome;
    }

    /// <summary>Stored and published counts and readiness once a second, from just before the fault, for reading a run.</summary>
    private void WriteTimeline()
    {
        lock (_samples)
        lock (_readiness)
        {
            var from = _faultAt!.Value - TimeSpan.FromSeconds(2);
            foreach (var second in _samples.Where(s => s.At >= from).GroupBy(s => (int)(s.At - _faultAt!.Value).TotalSeconds).Select(g => g.Last()))
            {
                var ready = _readiness.LastOrDefault(r => r.At <= second.At).Ready;
                _output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  t{(second.At - _faultAt!.Value).TotalSeconds:+0.0;-0.0} s stored {second.Stored} published {second.Published}{(ready ? "" : " not ready")}"));
            }
        }
    }

    /// <summary>
    /// How long without a new event stored counts as settled once the load is published: longer than MassTransit's
    /// reconnect backoff after a broker restart (its attempts were up to ~11 s apart, stalls up to 35 s measured), so a
    /// slow reconnect is reported as a stall, not as lost events.
    /// </summary>
    private static readonly TimeSpan Settled = TimeSpan.FromSeconds(60);

    private TimeSpan LastProgress
    {
        get
        {
            lock (_samples)
            {
                var last = _samples.Count == 0 ? default : _samples[^1];
                var progress = _samples.LastOrDefault(s => s.Stored < last.Stored).At;
                // Before the repair, nothing can be expected to move.
                return _repairedAt > progress ? _repairedAt.Value : progress;
            }
        }
    }

    private (TimeSpan At, long Stored, long Published) LastSample
    {
        get { lock (_samples) return _samples.Count == 0 ? default : _samples[^1]; }
    }

    private async Task SampleProgress(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            long? stored = null;
            var ready = _instances.Any(i => !i.HasExited) && await Serving.IsReady();
            lock (_readiness) _readiness.Add((_clock.Elapsed, ready));
            try
            {
                stored = (await Serving.Get<JsonElement>("stats")).GetProperty("events").GetInt64();
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException)
            {
                // The serving instance is down or its database is: no progress to record.
            }
            lock (_samples)
            {
                _samples.Add((_clock.Elapsed, stored ?? (_samples.Count == 0 ? 0 : _samples[^1].Stored), _load?.Published ?? 0));
            }
        }
    }

    /// <summary>The longest time after the fault with no new event stored while events were still to come.</summary>
    private TimeSpan LongestStallAfterFault()
    {
        List<(TimeSpan At, long Stored, long Published)> samples;
        lock (_samples) samples = [.. _samples];
        var longest = TimeSpan.Zero;
        var lastProgress = samples.LastOrDefault(s => s.At <= _faultAt).At;
        for (var i = 1; i < samples.Count; i++)
        {
            if (samples[i].Stored <= samples[i - 1].Stored && samples[i].Stored < EventCount) continue;
            if (samples[i].At > _faultAt && samples[i].At - lastProgress > longest) longest = samples[i].At - lastProgress;
            lastProgress = samples[i].At;
        }
        return longest;
    }

    /// <summary>How long, after the fault, the serving instance's <c>/health/ready</c> did not answer 200 (summed over samples).</summary>
    private TimeSpan NotReadyAfterFault()
    {
        lock (_readiness)
        {
            var after = _readiness.Where(r => r.At >= _faultAt).ToList();
            return TimeSpan.FromTicks(after.Zip(after.Skip(1)).Where(p => !p.First.Ready).Sum(p => (p.Second.At - p.First.At).Ticks));
        }
    }

    /// <summary>From the repair (the dependency back, the replacement ready) to the first event stored after it.</summary>
    private TimeSpan ResumedAfterRepair()
    {
        List<(TimeSpan At, long Stored, long Published)> samples;
        lock (_samples) samples = [.. _samples];
        var repaired = _repairedAt ?? _faultAt!.Value;
        var atRepair = samples.LastOrDefault(s => s.At <= repaired).Stored;
        if (atRepair >= EventCount) return TimeSpan.Zero;
        var resumed = samples.FirstOrDefault(s => s.At >= repaired && s.Stored > atRepair);
        return resumed == default ? _clock.Elapsed - repaired : resumed.At - repaired;
    }

    private static async Task<HashSet<Guid>> ChannelEntries(IDocumentStore store, IEnumerable<string> customers)
    {
        var ids = new HashSet<Guid>();
        await using var session = store.QuerySession();
        foreach (var customer in customers)
        {
            foreach (var stored in await session.Events.FetchStreamAsync(customer))
            {
                if (stored.Data is CustomerEnteredSegment { Channel: not null }) ids.Add(stored.Id);
            }
        }
        return ids;
    }

    private async Task<(List<Guid> Sent, int Refused)> Sends()
    {
        var body = await _notification.Get<JsonElement>("sends");
        return (body.GetProperty("sends").EnumerateArray().Select(s => s.GetProperty("messageId").GetGuid()).ToList(),
            body.GetProperty("refused").GetArrayLength());
    }

    /// <summary>Reads the service's event log through Marten, configured as the service configures it.</summary>
    private DocumentStore OpenStore() => DocumentStore.For(options =>
    {
        options.Connection(_servers.Postgres.ConnectionString(_name));
        options.DatabaseSchemaName = "segmentation";
        options.UseSystemTextJsonForSerialization();
        options.Events.StreamIdentity = StreamIdentity.AsString;
        options.Events.MetadataConfig.HeadersEnabled = true;
        options.Events.AddEventTypes([typeof(CustomerEventRecorded), typeof(CustomerEnteredSegment), typeof(CustomerExitedSegment), typeof(CustomerEvaluated)]);
        options.AutoCreateSchemaObjects = JasperFx.AutoCreate.None;
    });

    private static Task Until(Func<Task<bool>> condition, string what, TimeSpan timeout) =>
        Until(condition, done => done, what, timeout);

    private static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value)) return value;
            if (deadline.Elapsed > timeout) throw new TimeoutException($"Timed out after {timeout} waiting for {what}; last: {value}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_publishing, _sampling).ContinueWith(_ => { });
        if (_load is not null) await _load.DisposeAsync();
        foreach (var instance in _instances) await instance.DisposeAsync();
        if (_notification is not null) await _notification.DisposeAsync();
        _stop.Dispose();
    }
}

public sealed record Outcome(
    int Published, int StoredDistinct, int StoredTwice, long ErrorQueued, IReadOnlyList<string> Violations, int ChannelEntries,
    int SendsLost, int SendsDoubled, int SendsRefused, long PublishRetries, TimeSpan Outage, TimeSpan NotReady, TimeSpan Stall, TimeSpan Resumed)
{
    public string Describe(string fault) => string.Create(CultureInfo.InvariantCulture,
        $"FAULT {fault}: outage {Outage.TotalSeconds:0.0} s, stall {Stall.TotalSeconds:0.0} s, resumed {Resumed.TotalSeconds:0.0} s after the repair, not ready {NotReady.TotalSeconds:0.0} s; published {Published}, stored {StoredDistinct} " +
        $"(twice {StoredTwice}), error-queued {ErrorQueued}, violations {Violations.Count}, entries with a channel {ChannelEntries}, " +
        $"sends lost {SendsLost}, doubled {SendsDoubled}, refused {SendsRefused}; publisher retries {PublishRetries}");
}
