using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Segmentation.Rules.Membership;
using Segmentation.Rules.Rulesets;

namespace Segmentation.Rules.Simulation;

/// <summary>
/// Runs a candidate ruleset (and the baseline, for the diff) over a stream of customers without side effects: the
/// engines work on copies and nothing is written anywhere. Customers are read once, handed in batches to one worker per
/// core and tallied per worker; the tallies are added up at the end, so memory depends on the number of segments, days
/// and channels, not on the number of customers, and the report is the same whatever the parallelism.
/// </summary>
public static class RulesetSimulation
{
    private const int BatchSize = 256;

    public static async Task<SimulationReport> Simulate(
        Ruleset candidate, Ruleset? baseline, SimulationScope scope, SimulationOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SimulationOptions();
        var plan = new SimulationPlan(candidate, baseline, options.ExampleCustomers);
        var tally = scope switch
        {
            SnapshotScope snapshot => await Run(plan, options, Covered(plan, snapshot, cancellationToken), (worker, profile) => worker.Snapshot(profile, snapshot.At), cancellationToken),
            ReplayScope replay when replay.From > replay.To => throw new ArgumentException($"replay starts ({replay.From:O}) after it ends ({replay.To:O})", nameof(scope)),
            ReplayScope replay => await Run(plan, options, replay.Histories, (worker, history) => worker.Replay(history, replay.From, replay.To), cancellationToken),
            _ => throw new ArgumentException($"unknown scope {scope.GetType().Name}", nameof(scope)),
        };
        var (name, from, to) = scope switch
        {
            SnapshotScope snapshot => ("snapshot", snapshot.At, snapshot.At),
            ReplayScope replay => ("replay", replay.From, replay.To),
            _ => throw new ArgumentException($"unknown scope {scope.GetType().Name}", nameof(scope)),
        };
        return Report(plan, candidate, baseline, tally, name, from, to);
    }

    /// <summary>The snapshot's profiles, each refolded from its history when it keeps less than either ruleset reads.</summary>
    private static async IAsyncEnumerable<CustomerState> Covered(
        SimulationPlan plan, SnapshotScope snapshot, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var profile in snapshot.Profiles.WithCancellation(cancellationToken))
        {
            if (plan.Candidate.Covers(profile) && (plan.Baseline?.Covers(profile) ?? true))
            {
                yield return profile;
                continue;
            }

            var historyOf = snapshot.HistoryOf ?? throw new InvalidOperationException(
                $"customer {profile.CustomerId} keeps less of the history than the rulesets read, and the snapshot has no source of histories to refold it from");
            yield return profile.Refold(await historyOf(profile.CustomerId, cancellationToken));
        }
    }

    private static async Task<Tally> Run<TInput>(
        SimulationPlan plan, SimulationOptions options, IAsyncEnumerable<TInput> inputs, Action<CustomerSimulator, TInput> simulate, CancellationToken cancellationToken)
    {
        var parallelism = Math.Max(1, options.Parallelism);
        var batches = Channel.CreateBounded<TInput[]>(new BoundedChannelOptions(parallelism * 2) { SingleWriter = true });
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long done = 0;
        var workers = Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            var worker = new CustomerSimulator(plan);
            try
            {
                await foreach (var batch in batches.Reader.ReadAllAsync(failed.Token))
                {
                    foreach (var input in batch)
                    {
                        simulate(worker, input);
                    }

                    options.Progress?.Report(Interlocked.Add(ref done, batch.Length));
                }
            }
            catch
            {
                await failed.CancelAsync();
                throw;
            }

            return worker.Tally;
        }, CancellationToken.None)).ToArray();

        try
        {
            var batch = new List<TInput>(BatchSize);
            await foreach (var input in inputs.WithCancellation(failed.Token))
            {
                batch.Add(input);
                if (batch.Count == BatchSize)
                {
                    await batches.Writer.WriteAsync([.. batch], failed.Token);
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                await batches.Writer.WriteAsync([.. batch], failed.Token);
            }

            batches.Writer.Complete();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A worker failed and cancelled the run; its exception is the one to report, below.
            batches.Writer.TryComplete();
        }
        catch
        {
            await failed.CancelAsync();
            batches.Writer.TryComplete();
            await Task.WhenAll(workers).ContinueWith(static _ => { }, TaskScheduler.Default);
            throw;
        }

        Tally[] tallies;
        try
        {
            tallies = await Task.WhenAll(workers);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Workers stopped by another worker's failure end cancelled; rethrow the failure itself.
            var failure = workers.Where(w => w.IsFaulted).SelectMany(w => w.Exception!.InnerExceptions).First(e => e is not OperationCanceledException);
            ExceptionDispatchInfo.Throw(failure);
            throw;
        }

        var total = tallies[0];
        foreach (var other in tallies.Skip(1))
        {
            total.Merge(other);
        }

        return total;
    }

    private static SimulationReport Report(
        SimulationPlan plan, Ruleset candidate, Ruleset? baseline, Tally tally, string scope, DateTimeOffset from, DateTimeOffset to)
    {
        var names = candidate.Segments.Select(s => s.Name)
            .Concat(baseline?.Segments.Select(s => s.Name) ?? [])
            .Distinct(StringComparer.Ordinal)
            .ToList();
        names.AddRange(tally.Candidate.Segments.Keys.Concat(tally.Baseline.Segments.Keys)
            .Except(names, StringComparer.Ordinal)
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal));

        var segments = names.Select(name =>
        {
            plan.CandidateRules.TryGetValue(name, out var rule);
            plan.BaselineRules.TryGetValue(name, out var baselineRule);
            var counts = tally.Candidate.Segments.GetValueOrDefault(name) ?? new SegmentCounts();
            var blocked = tally.Blocked.GetValueOrDefault(name) ?? new BlockedCounts();
            var baselineCounts = tally.Baseline.Segments.GetValueOrDefault(name) ?? new SegmentCounts();
            return new SegmentReport(
                name,
                rule?.Group ?? baselineRule?.Group,
                rule?.Channel,
                rule is not null,
                baselineRule is not null,
                counts.Entries,
                counts.Exits,
                counts.HoldersAtEnd,
                PerDay(counts.EntriesPerDay),
                PerDay(counts.ExitsPerDay),
                new BlockedReport(blocked.Customers, Sorted(blocked.HeldBy), blocked.Cooldown),
                baseline is null ? null : new BaselineSegmentReport(
                    baselineRule?.Channel, baselineCounts.Entries, baselineCounts.Exits, baselineCounts.HoldersAtEnd, PerDay(baselineCounts.EntriesPerDay)),
                baseline is null ? null : List(tally.WouldEnter.GetValueOrDefault(name)),
                baseline is null ? null : List(tally.WouldLeave.GetValueOrDefault(name)));
        }).ToList();

        var groups = plan.ExclusiveGroups.Select((name, index) =>
        {
            var counts = tally.Groups[index];
            return new GroupReport(
                name,
                Distribution(counts.ContactsPerCustomer),
                PerDay(counts.ContactsPerDay),
                [.. counts.Overlaps
                    .OrderBy(o => o.Key.First, StringComparer.Ordinal)
                    .ThenBy(o => o.Key.Second, StringComparer.Ordinal)
                    .Select(o => new OverlapReport([o.Key.First, o.Key.Second], o.Value.Count, o.Value.Ids))]);
        }).ToList();

        var channels = tally.Candidate.MessagesPerChannel.Keys.Concat(tally.Baseline.MessagesPerChannel.Keys)
            .Concat(candidate.Segments.Select(s => s.Channel).OfType<string>())
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .Select(channel =>
            {
                var perDay = tally.Candidate.MessagesPerChannel.GetValueOrDefault(channel) ?? [];
                var baselinePerDay = tally.Baseline.MessagesPerChannel.GetValueOrDefault(channel) ?? [];
                return new ChannelReport(
                    channel,
                    perDay.Values.Sum(),
                    PerDay(perDay),
                    baseline is null ? null : baselinePerDay.Values.Sum(),
                    baseline is null ? null : PerDay(baselinePerDay));
            })
            .ToList();

        var days = DateOnly.FromDateTime(to.UtcDateTime).DayNumber - DateOnly.FromDateTime(from.UtcDateTime).DayNumber + 1;
        return new SimulationReport(
            scope,
            from.ToUniversalTime(),
            to.ToUniversalTime(),
            days,
            new RulesetIdentity(candidate.FileName, candidate.Fingerprint),
            baseline is null ? null : new RulesetIdentity(baseline.FileName, baseline.Fingerprint),
            tally.Customers,
            new EvaluationCounts(tally.Candidate.Evaluations, tally.Baseline.Evaluations),
            segments,
            groups,
            channels);
    }

    private static SortedDictionary<string, long> PerDay(Dictionary<DateOnly, long> counts) =>
        new(counts.Where(p => p.Value != 0).ToDictionary(p => p.Key.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), p => p.Value), StringComparer.Ordinal);

    private static SortedDictionary<string, long> Sorted(Dictionary<string, long> counts) => new(counts, StringComparer.Ordinal);

    private static CustomerList List(SmallestIds? ids) => ids is null ? new CustomerList(0, []) : new CustomerList(ids.Count, ids.Ids);

    private static ContactDistribution Distribution(Dictionary<int, long> customersByContacts)
    {
        var customers = customersByContacts.Values.Sum();
        var ordered = customersByContacts.Where(p => p.Value > 0).OrderBy(p => p.Key).ToList();
        return new ContactDistribution(
            customers,
            ordered.Where(p => p.Key > 0).Sum(p => p.Value),
            ordered.Sum(p => p.Key * p.Value),
            NearestRank(ordered, customers, 0.50),
            NearestRank(ordered, customers, 0.95),
            ordered.Count == 0 ? 0 : ordered[^1].Key);
    }

    private static int NearestRank(List<KeyValuePair<int, long>> ordered, long customers, double quantile)
    {
        var rank = (long)Math.Ceiling(quantile * customers);
        long seen = 0;
        foreach (var (contacts, count) in ordered)
        {
            seen += count;
            if (seen >= rank)
            {
                return contacts;
            }
        }

        return 0;
    }
}
