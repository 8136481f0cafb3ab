using System.Diagnostics.Metrics;
using Segmentation.Service.Hosting;
using Segmentation.Service.Rules;

namespace Segmentation.Service.Membership;

/// <summary>How far the re-evaluation of the customers under the active version is, and how fast it goes.</summary>
public sealed record ReevaluationStatus(string Version, long CustomersAtActivation, long Done, long Remaining, double? CustomersPerSecond)
{
    /// <summary>At the measured rate; unknown while nothing was measured or nothing moved.</summary>
    public double? SecondsLeft => CustomersPerSecond > 0 ? Remaining / CustomersPerSecond.Value : null;
}

/// <summary>
/// Samples the re-evaluation after an activation (<see cref="CustomerSchedule.Reevaluation"/>, a count of what is
/// left) every <see cref="SegmentationSettings.ReevaluationProgressInterval"/>: the rate between two samples gives
/// the estimate of the time left. Logged while customers are left, observed as the gauge
/// <c>segmentation.reevaluation.remaining</c>, and served by <c>GET /rulesets/active</c>.
/// </summary>
public sealed class ReevaluationProgress : BackgroundService
{
    private readonly CustomerSchedule _schedule;
    private readonly ActiveRuleset _rules;
    private readonly SegmentationSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger<ReevaluationProgress> _logger;
    private Sample? _last;

    public ReevaluationProgress(
        CustomerSchedule schedule, ActiveRuleset rules, SegmentationSettings settings, TimeProvider time, IMeterFactory meters, ILogger<ReevaluationProgress> logger)
    {
        (_schedule, _rules, _settings, _time, _logger) = (schedule, rules, settings, time, logger);
        meters.Create(SegmentationMetrics.MeterName).CreateObservableGauge<long>(
            "segmentation.reevaluation.remaining",
            () => _last is { } last
                ? [new Measurement<long>(last.Status.Remaining, new KeyValuePair<string, object?>("ruleset.version", last.Status.Version))]
                : (IEnumerable<Measurement<long>>)[],
            "{customer}", "Customers still decided under another ruleset version than the active one, at the last sample");
    }

    /// <summary>The re-evaluation now, with the rate measured between the last two samples.</summary>
    public async Task<ReevaluationStatus> Current(CancellationToken cancellationToken)
    {
        var version = _rules.Current.Version;
        var (atActivation, remaining) = await _schedule.Reevaluation(version, cancellationToken);
        var rate = _last is { } last && last.Status.Version == version ? last.Status.CustomersPerSecond : null;
        return new ReevaluationStatus(version, atActivation, Math.Max(0, atActivation - remaining), remaining, rate);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_settings.ReevaluationProgressInterval, _time);
        do
        {
            try
            {
                TakeSample(await Current(stoppingToken));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                _logger.LogWarning(e, "Could not measure the re-evaluation's progress");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private void TakeSample(ReevaluationStatus status)
    {
        var at = _time.GetUtcNow();
        if (_last is { } last && last.Status.Version == status.Version && at > last.At)
        {
            status = status with { CustomersPerSecond = Math.Max(0, last.Status.Remaining - status.Remaining) / (at - last.At).TotalSeconds };
        }

        var wasRunning = _last is { Status.Remaining: > 0 };
        _last = new Sample(status, at);
        if (status.Remaining > 0 || wasRunning)
        {
            _logger.LogInformation(
                "Re-evaluation for ruleset {Version}: {Done} of {Customers} customers done, {Remaining} left, {Rate:0} customers/s, {SecondsLeft:0} s left",
                status.Version, status.Done, status.CustomersAtActivation, status.Remaining, status.CustomersPerSecond, status.SecondsLeft);
        }
    }

    private sealed record Sample(ReevaluationStatus Status, DateTimeOffset At);
}
