using Npgsql;

namespace Segmentation.FaultTests;

/// <summary>
/// A PostgreSQL cluster of this suite alone (initdb into a temporary directory, its own port, run as the postgres user),
/// so restarting it never disturbs the shared server other tests use.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _bin;

    private PrivatePostgres(string directory, string bin, int port)
    {
        _directory = directory;
        _bin = bin;
        Port = port;
    }

    public int Port { get; }
    private string Data => Path.Combine(_directory, "data");
    private string ServerLog => Path.Combine(_directory, "postgres.log");

    /// <summary>Our commands' output; written by root, so apart from the server's own log, which the postgres user writes.</summary>
    private string CommandLog => Path.Combine(_directory, "commands.log");

    public static async Task<PrivatePostgres> Start()
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin")).Where(b => File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => b.Contains("/15/", StringComparison.Ordinal)).FirstOrDefault()
            ?? throw new InvalidOperationException("No PostgreSQL server under /usr/lib/postgresql (run infra/start.sh)");
        var directory = Path.Combine(Path.GetTempPath(), $"segfault-pg-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(directory);
        await Commands.Run("chown", "postgres:postgres", directory);
        var postgres = new PrivatePostgres(directory, bin, Commands.FreePort());
        try
        {
            await postgres.AsPostgres("initdb", "-D", postgres.Data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
            await postgres.StartServer();
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
        return postgres;
    }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}";

    public async Task CreateDatabase(string name)
    {
        // Unpooled: a pooled connection would be one the last restart of the server has ended.
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await create.ExecuteNonQueryAsync();
    }

    /// <summary>Stops the server as a failover does: <c>fast</c> ends every session with 57P01, <c>immediate</c> as a crash.</summary>
    public async Task StopServer(string mode)
    {
        await AsPostgres("pg_ctl", "-D", Data, "-m", mode, "-w", "stop");
        // The connections this process pooled died with the server; the next test must not meet them.
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    public Task StartServer() => Commands.RunDetached(CommandLog, "runuser", "-u", "postgres", "--", Path.Combine(_bin, "pg_ctl"),
        "-D", Data, "-l", ServerLog, "-w", "-t", "60", "-o",
        $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off", "start");

    private Task AsPostgres(string tool, params string[] arguments) =>
        Commands.RunDetached(CommandLog, "runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. arguments]);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopServer("immediate");
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
