using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Notification.Service.Sending;

/// <summary>
/// Meter <c>Notification.Service</c>: <c>notification.sends</c> (tags segment, channel),
/// <c>notification.sends.refused</c> (tags reason=cooldown, group), <c>notification.sends.duplicate</c>
/// (tag segment) and <c>notification.sends.skipped</c> (tag reason=no_channel).
/// </summary>
public sealed class NotificationMetrics
{
    public const string MeterName = "Notification.Service";
    public const string Sends = "notification.sends";
    public const string Refused = "notification.sends.refused";
    public const string Duplicates = "notification.sends.duplicate";
    public const string Skipped = "notification.sends.skipped";

    /// <summary>Traces one send decision under MassTransit's consume activity.</summary>
    public static readonly ActivitySource ActivitySource = new(MeterName);

    private readonly Counter<long> _sends;
    private readonly Counter<long> _refused;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _skipped;

    public NotificationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _sends = meter.CreateCounter<long>(Sends, "{message}", "Messages sent (recorded) to customers.");
        _refused = meter.CreateCounter<long>(Refused, "{message}", "Messages refused, e.g. inside the group's cooldown.");
        _duplicates = meter.CreateCounter<long>(Duplicates, "{message}", "Redelivered messages whose id was already decided.");
        _skipped = meter.CreateCounter<long>(Skipped, "{message}", "Segment entries that ask for no send (no channel).");
    }

    public void Sent(string segment, string channel) =>
        _sends.Add(1, new("segment", segment), new("channel", channel));

    public void RefusedByCooldown(string? group) =>
        _refused.Add(1, new("reason", "cooldown"), new("group", group));

    public void Duplicate(string segment) => _duplicates.Add(1, new KeyValuePair<string, object?>("segment", segment));

    public void SkippedWithoutChannel() => _skipped.Add(1, new KeyValuePair<string, object?>("reason", "no_channel"));
}
