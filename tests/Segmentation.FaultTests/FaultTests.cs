using Xunit.Abstractions;

namespace Segmentation.FaultTests;

/// <summary>
/// Each fault strikes while the simulator's events are being published and stored. Afterwards, whatever the fault: every
/// event is stored once, no error queue holds anything, no customer held two segments of an exclusive group or entered one
/// inside its cooldown, and the notification service sent every entry with a channel exactly once.
/// </summary>
public sealed class FaultTests(FaultServers servers, ITestOutputHelper output) : IClassFixture<FaultServers>
{
    [Fact]
    public async Task An_instance_killed_hard_and_restarted_loses_and_doubles_nothing()
    {
        await using var run = await FaultRun.Start(servers, "kill_restart", output);
        await run.WhenPublished(0.4);

        run.FaultInjected();
        await run.Serving.KillHard();
        await run.StartInstance("a-restarted");
        run.FaultRepaired();

        Holds(await run.Finish());
    }

    [Fact]
    public async Task A_postgresql_restart_parks_nothing_in_an_error_queue()
    {
        await using var run = await FaultRun.Start(servers, "postgres_restart", output);
        await run.WhenPublished(0.4);

        run.FaultInjected();
        await servers.Postgres.StopServer("fast");
        try
        {
            await run.UntilNotReady(run.Serving);
        }
        finally
        {
            await servers.Postgres.StartServer();
        }
        run.FaultRepaired();

        Holds(await run.Finish());
    }

    [Fact]
    public async Task A_rabbitmq_process_restart_parks_nothing_and_loses_nothing()
    {
        await using var run = await FaultRun.Start(servers, "rabbitmq_restart", output);
        await run.WhenPublished(0.4);

        run.FaultInjected();
        await servers.RabbitMq.KillServer();
        await servers.RabbitMq.StartServer();
        run.FaultRepaired();

        Holds(await run.Finish());
    }

    [Fact]
    public async Task A_second_instance_takes_over_when_the_first_is_killed()
    {
        await using var run = await FaultRun.Start(servers, "join_then_kill", output);
        await run.WhenPublished(0.2);
        var first = run.Serving;
        await run.StartInstance("b");
        await run.WhenPublished(0.5);

        run.FaultInjected();
        await first.KillHard();
        run.FaultRepaired();

        Holds(await run.Finish());
    }

    private static void Holds(Outcome outcome)
    {
        Assert.Equal(outcome.Published, outcome.StoredDistinct);
        Assert.Equal(0, outcome.StoredTwice);
        Assert.Equal(0, outcome.ErrorQueued);
        Assert.Empty(outcome.Violations);
        Assert.True(outcome.ChannelEntries > 0, "the load produced no entry with a channel: nothing was checked downstream");
        Assert.Equal(0, outcome.SendsLost);
        Assert.Equal(0, outcome.SendsDoubled);
        Assert.Equal(0, outcome.SendsRefused);
    }
}
