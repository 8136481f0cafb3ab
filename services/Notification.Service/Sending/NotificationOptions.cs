namespace Notification.Service.Sending;

/// <summary>
/// Bound from the <c>Notification</c> configuration section. <c>Notification:Cooldowns:&lt;group&gt;</c>
/// (a TimeSpan such as <c>24:00:00</c>) is the minimum time between two sends to one customer for
/// segments of that group; a group without a configured cooldown is not checked.
/// </summary>
public sealed class NotificationOptions
{
    public Dictionary<string, TimeSpan> Cooldowns { get; } = new(StringComparer.OrdinalIgnoreCase);

    public TimeSpan? CooldownFor(string? group) =>
        group is not null && Cooldowns.TryGetValue(group, out var cooldown) && cooldown > TimeSpan.Zero ? cooldown : null;
}
