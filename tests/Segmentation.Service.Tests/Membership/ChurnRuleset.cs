namespace Segmentation.Service.Tests.Membership;

/// <summary>
/// A ruleset that makes customers enter, leave and switch exclusive segments often, so races on the claim and
/// cooldowns are exercised by ordinary traffic.
/// </summary>
public static class ChurnRuleset
{
    public static readonly TimeSpan Cooldown = TimeSpan.FromHours(1);

    public const string Yaml = """
        groups:
          contact: { exclusive: true, cooldown: 1h, on_conflict: priority }
        segments:
          frequent_buyer:
            group: contact
            priority: 20
            channel: email
            when: count(Purchased, 6h) >= 3
          browser:
            group: contact
            priority: 10
            channel: sms
            when: count(PageViewed, 3h) >= 2 and count(Purchased, 6h) < 3
          recent_buyer:
            group: contact
            priority: 5
            channel: email
            when: count(Purchased, 2h) >= 1
          regular:
            when: count(Purchased, 1d) >= 2
        """;

    public static string WriteToTempFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"churn-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Yaml);
        return path;
    }
}
