using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Segmentation.Rules.Simulation;

namespace Segmentation.Benchmarks.Simulation;

/// <summary>
/// `dotnet run -c Release --project tests/Segmentation.Benchmarks -- simulation [--phase snapshot|replay|sql]
/// [--profiles N] [--events N] [--segments N]`: the simulation core over synthetic streams (snapshot of N profiles,
/// replay of N events at 20 per customer), and the comparable snapshot as one hand-written SQL query in PostgreSQL
/// (POSTGRES_CONNECTION). Prints one line per phase with throughput and the process's peak working set; run one
/// phase per process to read each peak on its own.
/// </summary>
internal static class SimulationBenchmark
{
    private const int EventsPerCustomer = 20;
    private const string Schema = "simulation_benchmark";

    public static async Task<int> Run(string[] args)
    {
        var phase = Argument(args, "--phase") ?? "all";
        var profiles = int.Parse(Argument(args, "--profiles") ?? "1000000", CultureInfo.InvariantCulture);
        var events = long.Parse(Argument(args, "--events") ?? "10000000", CultureInfo.InvariantCulture);
        var segments = int.Parse(Argument(args, "--segments") ?? "100", CultureInfo.InvariantCulture);
        var ruleset = SimulationWorkload.Ruleset(segments);
        Console.WriteLine($"simulation benchmark: {Environment.ProcessorCount} cores, {segments} segments, phase {phase}");

        if (phase is "all" or "snapshot")
        {
            var clock = Stopwatch.StartNew();
            var report = await RulesetSimulation.Simulate(ruleset, null, new SnapshotScope(SimulationWorkload.Profiles(profiles), SimulationWorkload.Now));
            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(Line("snapshot", $"{profiles:N0} profiles x {segments} segments", seconds,
                $"{profiles / seconds:N0} profiles/s, {(double)profiles * segments / seconds:N0} condition evaluations/s; " +
                $"holders {report.Segments.Sum(s => s.HoldersAtEnd):N0}"));
        }

        if (phase is "all" or "replay")
        {
            var customers = (int)(events / EventsPerCustomer);
            var clock = Stopwatch.StartNew();
            var report = await RulesetSimulation.Simulate(ruleset, null, new ReplayScope(
                SimulationWorkload.Histories(customers, EventsPerCustomer), SimulationWorkload.Now.AddDays(-90), SimulationWorkload.Now));
            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(Line("replay", $"{(long)customers * EventsPerCustomer:N0} events of {customers:N0} customers", seconds,
                $"{(double)customers * EventsPerCustomer / seconds:N0} events/s, {report.Evaluations.Candidate / seconds:N0} engine evaluations/s " +
                $"({report.Evaluations.Candidate:N0} evaluations, events and due instants); entries {report.Segments.Sum(s => s.Entries):N0}"));
        }

        if (phase is "all" or "sql")
        {
            var connection = Environment.GetEnvironmentVariable("POSTGRES_CONNECTION")
                ?? throw new InvalidOperationException("POSTGRES_CONNECTION is not set (eval \"$(infra/start.sh)\")");
            await using var database = NpgsqlDataSource.Create(connection);
            var clock = Stopwatch.StartNew();
            await Execute(database, SimulationWorkload.SqlPopulation(Schema, profiles));
            Console.WriteLine($"sql: population of {profiles:N0} customers and {profiles * 4:N0} purchases generated in {clock.Elapsed.TotalSeconds:N1} s (not timed below)");
            try
            {
                var query = SimulationWorkload.SqlQuery(Schema, segments);
                await Execute(database, query); // warm the cache
                var times = new List<double>();
                for (var run = 0; run < 3; run++)
                {
                    clock.Restart();
                    await Execute(database, query);
                    times.Add(clock.Elapsed.TotalSeconds);
                }

                var median = times.Order().ElementAt(1);
                Console.WriteLine(Line("sql", $"{profiles:N0} customers x {segments} conditions (median of 3)", median,
                    $"{(double)profiles * segments / median:N0} condition evaluations/s"));
            }
            finally
            {
                await Execute(database, $"DROP SCHEMA IF EXISTS {Schema} CASCADE");
            }
        }

        return 0;
    }

    private static async Task Execute(NpgsqlDataSource database, string sql)
    {
        await using var command = database.CreateCommand(sql);
        command.Parameters.AddWithValue("now", SimulationWorkload.Now);
        command.CommandTimeout = 0;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync() || await reader.NextResultAsync())
        {
        }
    }

    private static string Line(string phase, string what, double seconds, string rates)
    {
        using var process = Process.GetCurrentProcess();
        return $"{phase}: {what} in {seconds:N1} s: {rates}; peak working set {process.PeakWorkingSet64 / (1024 * 1024):N0} MB";
    }

    private static string? Argument(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
