using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Segmentation.Service.Membership;
using Segmentation.Service.Rules;
using Segmentation.Service.Tests.Infrastructure;

namespace Segmentation.Service.Tests.Membership;

/// <summary>A re-evaluation after an activation never delays time-triggered work: the due are leased first.</summary>
public sealed class ReevaluationPriorityTests(IsolatedServers servers) : IClassFixture<IsolatedServers>
{
    [Fact]
    public async Task During_a_reevaluation_the_customers_due_now_are_taken_before_those_only_on_an_old_version()
    {
        var time = new FakeTimeProvider(DueCustomerSweepTests.SignedUpAt);
        await using var service = await ServiceUnderTest.Start(servers, time, DueCustomerSweepTests.Settings);
        var due = await DueCustomerSweepTests.SignUp(servers, service, "due-first", 3);
        await DueCustomerSweepTests.SignUp(servers, service, "stale-only", 6, optIn: false);
        string version;
        await using (var scope = service.Services.CreateAsyncScope())
        {
            var catalog = scope.ServiceProvider.GetRequiredService<RulesetCatalog>();
            var yaml = (await File.ReadAllTextAsync(ExampleRuleset.Path)).Replace("cooldown: 24h", "cooldown: 48h", StringComparison.Ordinal);
            var (stored, errors) = await catalog.Upload(yaml, "cooldown-48h.yaml", "test", default);
            Assert.Empty(errors);
            version = stored!.Id;
            await catalog.Activate(version, "test", default);
        }
        await service.Services.GetRequiredService<RulesetWatcher>().LoadActive(default);
        var progress = await service.Services.GetRequiredService<ReevaluationProgress>().Current(default);
        Assert.True(progress.Remaining >= due.Count + 6, $"{progress.Remaining} customers left to re-evaluate");

        // The "stale-only" customers signed up without opting in: they are not due, only on the old version.
        time.Advance(TimeSpan.FromDays(3));
        var now = time.GetUtcNow();
        var first = await service.Services.GetRequiredService<CustomerSchedule>().Claim(now, version, 3, now.AddMinutes(1), "test", default);
        Assert.Equal(due.Order(StringComparer.Ordinal), first.Select(c => c.CustomerId).Order(StringComparer.Ordinal));
        Assert.All(first, c => Assert.Equal(now, c.DueAt));
    }
}
